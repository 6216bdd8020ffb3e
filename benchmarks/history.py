"""Does a daily run cost more when more history is stored? (issue: cost must not grow.)

  python -m benchmarks.history [--history-days 30] [--events 2000] [--samples 3]

One local stack. The transform (the state machine: dbt staging, marts, tests, through the real
Lambdas) is timed for a daily run with 1 day stored, then the history is grown to N days with
one full-refresh execution, and a daily run is timed again. Reruns of the same day are
idempotent, so each figure is the median of `samples` reruns. Airflow is left out: its
overhead does not depend on the data. Writes JSON to dist/bench/history.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from benchmarks.transform import execute
from local import sample_data
from local.lakehouse import Lakehouse
from local.stack import LocalStack

FIRST = date(2026, 1, 1)


def stage_medians(lakehouse: Lakehouse, run_ids: list[str]) -> dict[str, float]:
    """Each stage's median duration_s over the runs, as their run records hold it."""
    records = [lakehouse.run(run_id)["stages"] for run_id in run_ids]
    return {
        stage: round(statistics.median(float(r[stage]["duration_s"]) for r in records), 3)
        for stage in records[0]
        if all(r.get(stage, {}).get("duration_s") is not None for r in records)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(Path(state))
        provisioned = stack.up()
        try:
            lakehouse = Lakehouse(stack)
            s3 = lakehouse.client("s3")
            last = FIRST + timedelta(days=args.history_days)
            for offset in range(args.history_days + 1):
                day = FIRST + timedelta(days=offset)
                sample_data.write_day(s3, provisioned.names.raw_bucket, day, args.events, seed=7)
            one = FIRST + timedelta(days=1)
            execute(lakehouse, FIRST, one, "history-1")  # 1 day stored
            execute(lakehouse, one, one + timedelta(days=1), "warmup")  # warm Lambdas
            with_one = [
                execute(lakehouse, one, one + timedelta(days=1), f"one-{i}")
                for i in range(args.samples)
            ]
            execute(lakehouse, FIRST, last, "history-n", full_refresh=True)
            with_n = [
                execute(lakehouse, last, last + timedelta(days=1), f"many-{i}")
                for i in range(args.samples)
            ]
            stages = {
                label: stage_medians(lakehouse, [f"{label}-{i}" for i in range(args.samples)])
                for label in ("one", "many")
            }
        finally:
            stack.down()
    result = {
        "history_days": args.history_days,
        "events_per_day": args.events,
        "samples": args.samples,
        "daily_run_s_with_1_day": statistics.median(with_one),
        f"daily_run_s_with_{args.history_days}_days": statistics.median(with_n),
        "ratio": statistics.median(with_n) / statistics.median(with_one),
        "raw": {"one": with_one, "many": with_n},
        # Where the difference goes: each stage's median seconds (the run records' duration_s).
        "stage_s": stages,
    }
    out = Path("dist/bench/history.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
