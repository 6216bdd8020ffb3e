"""Median import time of each DAG file, as Airflow's DAG processor pays it.

  python -m benchmarks.dag_parse [--samples 9]     (run with .venvs/airflow's Python)

Each sample is a fresh interpreter. Two figures per file:
- `parse`: the file's own execution after the modules it imports are loaded, which is what the
  DAG processor pays per parse with `[dag_processor] parsing_pre_import_modules` (on by
  default: it imports a file's imports once, before forking the parse);
- `cold`: the same plus those imports (botocore/boto3 dominate), paid once per processor.
Writes JSON to dist/bench/dag_parse.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_SAMPLE = """
import ast, importlib, importlib.util, sys, time
import airflow.sdk  # loaded by the DAG processor before it parses any file
path, pre_import = sys.argv[1], sys.argv[2] == "pre"
started = time.perf_counter()
if pre_import:
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            importlib.import_module(node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
    started = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def warm_up(dag_file: Path, env: dict[str, str]) -> None:
    """One discarded sample, which writes the bytecode of everything the file imports."""
    measure(dag_file, 1, env, "cold")


def measure(dag_file: Path, samples: int, env: dict[str, str], mode: str) -> list[float]:
    timings = []
    for _ in range(samples):
        out = subprocess.run(
            [sys.executable, "-c", _SAMPLE, str(dag_file), mode],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        timings.append(float(out.stdout.strip().splitlines()[-1]))
    return timings


def airflow_env() -> dict[str, str]:
    """What the DAG processor has: an Airflow home, no examples, our plugins importable, and
    compiled bytecode (as installed on MWAA): without it every sample would compile Airflow."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **environ,
        "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", str(REPO / ".local-stack" / "bench")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO / "plugins"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=9)
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "bench" / "dag_parse.json")
    args = parser.parse_args(argv)
    env = airflow_env()
    results = {}
    for dag_file in sorted((REPO / "dags").glob("*.py")):
        warm_up(dag_file, env)
        results[dag_file.name] = {}
        for label, mode in (("parse", "pre"), ("cold", "cold")):
            timings = measure(dag_file, args.samples, env, mode)
            median_ms = statistics.median(timings) * 1000
            results[dag_file.name][label] = {
                "median_ms": round(median_ms, 1),
                "samples_ms": [round(t * 1000, 1) for t in timings],
            }
            print(f"{dag_file.name}: {label} median {median_ms:.1f} ms ({args.samples} samples)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
