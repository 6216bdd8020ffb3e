"""Parse time of our DAG file vs the same dbt project rendered by astronomer-cosmos (DbtDag).

  python -m benchmarks.cosmos_compare --manifest PATH [--samples 9]   (.venvs/bench's Python)

Both files are parsed by the same interpreter (Airflow 3.3.1 + cosmos), one fresh process per
sample, alternately ours, cosmos, ours, cosmos..., so machine noise hits both alike. Two figures
each, as in benchmarks/dag_parse.py: `parse` (imports pre-loaded, what the DAG processor pays
per parse) and `cold`. The ratio is the median of the pairwise cosmos/ours ratios. The
manifest comes from our `dbt parse` (benchmarks.run makes it with the Lambda side's dbt).
Writes JSON to dist/bench/cosmos_parse.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks.dag_parse import REPO, airflow_env, measure, warm_up

FILES = {
    "ours": REPO / "dags" / "lakehouse_raw_to_curated.py",
    "cosmos": REPO / "benchmarks" / "cosmos" / "lakehouse_dbt_cosmos.py",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=9)
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "bench" / "cosmos_parse.json")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        parser.error(f"no dbt manifest at {args.manifest}: run `dbt parse` first")
    env = {**airflow_env(), "COSMOS_MANIFEST": str(args.manifest.resolve())}
    for path in FILES.values():
        warm_up(path, env)
    timings = {(name, mode): [] for name in FILES for mode in ("parse", "cold")}
    for _ in range(args.samples):
        for mode in ("parse", "cold"):
            for name, path in FILES.items():  # A, B, A, B ...
                timings[name, mode] += measure(path, 1, env, "pre" if mode == "parse" else mode)
    results: dict = {"samples": args.samples}
    for (name, mode), values in timings.items():
        results.setdefault(name, {})[mode] = {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "samples_ms": [round(v * 1000, 1) for v in values],
        }
    for mode in ("parse", "cold"):
        pairs = zip(timings["cosmos", mode], timings["ours", mode], strict=True)
        results[f"cosmos_over_ours_{mode}"] = round(statistics.median(c / o for c, o in pairs), 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k.startswith("cosmos_over")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
