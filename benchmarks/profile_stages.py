"""Where raw -> curated spends its time: each stage of a daily run, profiled or measured.

  python -m benchmarks.profile_stages profile [--events 1000000]   (pyinstrument, per stage)
  python -m benchmarks.profile_stages measure [--events 1000000] [--days 5]
  python -m benchmarks.profile_stages memory [--events 1000000]

One local stack. Day 1 and day 2 of `events` each are generated and day 1 is run through the
state machine, so day 2 is a real daily run: its marts merge into a table that already holds
the previous days of its merge window.

- `profile`: day 2's stages (staging, marts, tests) each run in a fresh process with the
  function's own environment under pyinstrument; the text and HTML outputs go to dist/bench/
  (profile-<stage>.txt/.html) and each stage's top frames are printed.
- `measure`: day 2 through the state machine (the real Lambda seam): each invocation's seconds
  and peak RSS from the functions' logs; then, with --days N, raw -> curated for N more days
  of `events` in one execution. Prints JSON, also written to dist/bench/stages.json.
- `memory`: day 2's stages (staging, marts, tests, cleanup) each invoked through the Lambda
  seam in a fresh execution environment (a changed configuration gets new ones), so each
  stage's peak RSS is its own and not what a warm environment kept from the stage before.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "dist" / "bench"
FIRST = date(2026, 3, 1)
STAGES = {
    "staging": ("dbt_executor_function", {"stage": "dbt_staging", "select": "staging"}),
    "marts": ("dbt_executor_function", {"stage": "dbt_marts", "select": "marts"}),
    "tests": ("test_executor_function", {"stage": "tests"}),
}
_PROFILED = """
import json, sys, time
from pyinstrument import Profiler
from local.lambda_bootstrap import LambdaContext
from {module} import handler
from dbt_runtime import duckdb_plugin
# dbt runs models on worker threads, which a profiler of the main thread does not see: the
# Iceberg commit (our Python, called from DuckDB) is profiled on its own thread, per call.
commits, original = [], duckdb_plugin.iceberg_commit
def profiled_commit(database, table, parquet_path, options_json, connection=None):
    profiler = Profiler(interval=0.005)
    started = time.monotonic()
    with profiler:
        result = original(database, table, parquet_path, options_json, connection)
    commits.append((table, time.monotonic() - started, profiler))
    return result
duckdb_plugin.iceberg_commit = profiled_commit
profiler = Profiler(interval=0.005)
with profiler:
    handler(json.loads(sys.argv[1]), LambdaContext(900))
text = [profiler.output_text(unicode=True, show_all=False)]
for table, seconds, commit in commits:
    text += [f"=== Iceberg commit of {{table}}: {{seconds:.2f}} s (worker thread) ===",
             commit.output_text(unicode=True, show_all=False)]
open(sys.argv[2] + ".txt", "w").write("\\n".join(text))
open(sys.argv[2] + ".html", "w").write(profiler.output_html())
"""


def _function_env(lakehouse, function: str) -> tuple[dict, str]:
    config = lakehouse.client("lambda").get_function_configuration(FunctionName=function)
    return config["Environment"]["Variables"], config["Handler"]


def profile_stage(lakehouse, names, stage: str, event: dict, tmp_dir: Path) -> float:
    """Run one stage's handler under pyinstrument in a fresh process; seconds it took."""
    function_key, payload = STAGES[stage]
    variables, handler = _function_env(lakehouse, getattr(names, function_key))
    env = {
        **os.environ,
        **variables,
        "AWS_LAMBDA_FUNCTION_NAME": getattr(names, function_key),
        "PYTHONPATH": os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
        "TMPDIR": str(tmp_dir),
    }
    module = handler.rpartition(".")[0]
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", _PROFILED.format(module=module),
         json.dumps({**event, **payload}), str(OUT / f"profile-{stage}")],
        env=env, cwd=tmp_dir, check=True,
    )  # fmt: skip
    return time.monotonic() - started


def invocation_figures(log: Path, function: str) -> list[dict]:
    """Seconds and peak RSS of each invocation the local Lambda seam logged."""
    return [
        {"seconds": float(s), "peak_mb": int(m)}
        for s, m in re.findall(
            rf"END {function} ok ([\d.]+)s max_memory_used_mb=(\d+)", log.read_text()
        )
    ]


def fresh_invocation(lakehouse, function: str, event: dict, log: Path, attempt: str) -> dict:
    """Invoke `function` in a new execution environment; its seconds and peak RSS."""
    import boto3
    import botocore.config

    from local import aws

    lam = lakehouse.client("lambda")
    variables, _ = _function_env(lakehouse, function)
    lam.update_function_configuration(
        FunctionName=function,
        Environment={"Variables": {**variables, "BENCH_FRESH_ENVIRONMENT": attempt}},
    )
    log.write_text("")
    config = botocore.config.Config(read_timeout=960, retries={"max_attempts": 0})
    lam = boto3.client(
        "lambda", region_name=aws.REGION, endpoint_url=lakehouse.endpoint_url,
        aws_access_key_id=aws.ACCESS_KEY_ID, aws_secret_access_key=aws.SECRET_ACCESS_KEY,
        config=config,
    )  # fmt: skip
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event))
    if "FunctionError" in response:
        raise RuntimeError(f"{function}: {response['Payload'].read()[:2000]!r}")
    (figures,) = invocation_figures(log, function)
    return figures


def main(argv: list[str] | None = None) -> int:
    from benchmarks.transform import PIPELINE, execute, plan_run
    from local import sample_data
    from local.aws import CREDENTIALS_ENV
    from local.lakehouse import Lakehouse
    from local.stack import LocalStack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("profile", "measure", "memory"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=0, help="measure: then N days in one run")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=list(STAGES))
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"events_per_day": args.events}
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as state:
        stack = LocalStack(Path(state))
        provisioned = stack.up()
        names = provisioned.names
        try:
            lakehouse = Lakehouse(stack)
            s3 = lakehouse.client("s3")
            os.environ.update(
                {
                    "AWS_ENDPOINT_URL": provisioned.endpoint_url,
                    **CREDENTIALS_ENV,
                }
            )
            day1, day2 = FIRST, FIRST + timedelta(days=1)
            for day in (day1, day2):
                sample_data.write_day(s3, names.raw_bucket, day, args.events, seed=7)
            execute(lakehouse, day1, day2, "stages-day1")
            # The state machine's input for day 2, as the DAG's run plan makes it (run key,
            # interval, the run options' defaults).
            event = plan_run(
                PIPELINE, "stages-day2", None, None,
                {"interval_start": str(day2), "interval_end": str(day2 + timedelta(days=1))},
            ).state_machine_input()  # fmt: skip
            logs = stack.dir / "logs"
            if args.mode == "profile":
                tmp_dir = Path(state) / "lambda-tmp" / "profiled"
                tmp_dir.mkdir(parents=True)
                # Each stage reads what the one before it built (staging's views are of the
                # run's interval), so every stage up to the last one asked for is run.
                last = max(list(STAGES).index(stage) for stage in args.stages)
                for stage in list(STAGES)[: last + 1]:
                    seconds = profile_stage(lakehouse, names, stage, event, tmp_dir)
                    results[f"{stage}_profiled_s"] = round(seconds, 2)
                    print(f"{stage}: {seconds:.1f} s (profiled)", file=sys.stderr)
            elif args.mode == "memory":
                stages = {
                    **STAGES,
                    "cleanup": ("dbt_executor_function", {"stage": "cleanup", "select": "cleanup"}),
                }
                for stage, (function_key, payload) in stages.items():
                    function = getattr(names, function_key)
                    results[stage] = fresh_invocation(
                        lakehouse, function, {**event, **payload},
                        logs / f"{function}.log", stage,
                    )  # fmt: skip
                    print(f"{stage}: {results[stage]}", file=sys.stderr)
            else:
                dbt_log = logs / f"{names.dbt_executor_function}.log"
                test_log = logs / f"{names.test_executor_function}.log"
                dbt_log.write_text("")
                test_log.write_text("")
                results["daily_run_s"] = execute(lakehouse, day2, day2 + timedelta(days=1), "d2")
                # The dbt-executor runs staging, marts and, once the tests passed, the cleanup
                # of the run's relations (in that order); the test-executor the tests.
                staging, marts, cleanup = invocation_figures(dbt_log, names.dbt_executor_function)
                (tests,) = invocation_figures(test_log, names.test_executor_function)
                results.update(staging=staging, marts=marts, tests=tests, cleanup=cleanup)
                if args.days:
                    days = [day2 + timedelta(days=1 + i) for i in range(args.days)]
                    for day in days:
                        sample_data.write_day(s3, names.raw_bucket, day, args.events, seed=7)
                    dbt_log.write_text("")
                    results[f"raw_to_curated_{args.days}_days_s"] = execute(
                        lakehouse, days[0], days[-1] + timedelta(days=1), "many"
                    )
                    results["raw_to_curated_invocations"] = invocation_figures(
                        dbt_log, names.dbt_executor_function
                    )
        finally:
            stack.down()
    (OUT / f"stages-{args.mode}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
