"""The whole flow on this machine: local stack, one day of sample data, the real DAG, a summary.

  python -m local.demo [--day 2026-11-20] [--events 10000]

Attaches to the running local stack (or starts it) and keeps what it holds: other days, runs
and a running Airflow are left alone. A day that already has raw files gets them written again
(the same day, events and seed give the same bytes; parts left from a bigger day are removed),
and its run is repeated as a new try. `make reset` starts from nothing.

Runs the DAG's run of DAY (the run the schedule creates for it: logical date DAY 06:00 UTC, data
interval DAY) in the foreground, as `airflow dags test` does, then prints what the run left
behind, read back from the run ledger (DynamoDB), the Step Functions history and the Iceberg
tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import pyarrow.compute as pc

from local import airflow, sample_data
from local.lakehouse import Lakehouse
from local.stack import LocalStack, StackError

DAG_ID = airflow.DAG_ID


def run_dag_for_day(
    stack: LocalStack, day: date, log_name: str = "dag-run.log", conf: dict | None = None
) -> int:
    """The scheduled run of `day` (logical date `day` 06:00, data interval `day`), run in the
    foreground like `airflow dags test` (`conf`: the run's params, e.g. {"full_refresh": true})."""
    with open(stack.dir / log_name, "w") as log:
        result = airflow.run_day(stack, DAG_ID, day, conf, stdout=log, stderr=log)
    return result.returncode


def summary(lakehouse: Lakehouse, day: date) -> tuple[str, dict]:
    runs = [r for r in lakehouse.runs() if r.get("interval_start") == day.isoformat()]
    if not runs:
        raise RuntimeError(f"no run for {day} in the ledger")
    run = runs[0]
    lines = [
        f"Run {run['run_id']}",
        f"  status     {run['status']}",
        f"  interval   {run['interval_start']} -> {run['interval_end']} (end exclusive)",
        f"  triggered  {run.get('triggered_by')} ({run.get('run_type')})",
        "",
        "Stages (run ledger, DynamoDB)",
    ]
    for name, stage in run["stages"].items():
        duration = stage.get("duration_s")
        lines.append(
            f"  {name:<12} {stage.get('status', '?'):<10} "
            + (f"{duration:7.1f}s" if duration is not None else "      -")
        )
        for model in stage.get("models") or []:
            lines.append(f"      {model['name']:<16} {model['status']:<8} {model['rows']} rows")
    facts: dict = {"run": run}
    if run.get("execution_arn"):
        invocations = lakehouse.lambda_invocations(run["execution_arn"])
        facts["invocations"] = invocations
        lines += ["", "Lambda invocations (Step Functions history)"]
        lines += [f"  {i['function']:<36} {i['outcome']}" for i in invocations]
    if run["status"] == "FAILED":
        lines += ["", f"Failed in {run.get('failed_stage')}: {run.get('error')}"]
        lines += [f"  {run.get('cause', '')[:2000]}"]
        return "\n".join(lines), facts

    names = lakehouse.resources["names"]
    fct_events = lakehouse.table("fct_events")
    dim_users = lakehouse.table("dim_users")
    day_events = fct_events.filter(pc.equal(fct_events["event_date"], day))
    revenue = pc.sum(day_events["revenue"]).as_py()
    tests = lakehouse.test_results(run["stages"]["tests"]["invocation_id"])
    statuses = {
        s: int(pc.sum(pc.equal(tests["status"], s)).as_py() or 0)
        for s in ("pass", "warn", "fail", "error")
    }
    facts.update(
        fct_events_rows=fct_events.num_rows,
        day_events=day_events.num_rows,
        revenue=revenue,
        dim_users_rows=dim_users.num_rows,
        tests=statuses,
    )
    lines += [
        "",
        "Tables (Iceberg, read back through the Glue catalog)",
        f"  {names['curated_database']}.fct_events  {fct_events.num_rows} rows "
        f"({day_events.num_rows} on {day}), revenue {revenue}",
        f"  {names['curated_database']}.dim_users   {dim_users.num_rows} rows",
        f"  {names['curated_database']}.daily_metrics  {lakehouse.table('daily_metrics').num_rows}"
        " days (late events counted in the day they happened)",
        f"  {names['elementary_database']}.elementary_test_results  {tests.num_rows} rows this run:"
        f" {statuses['pass']} passed, {statuses['warn']} warned, {statuses['fail']} failed,"
        f" {statuses['error']} errored",
        "",
        "Where things are",
        f"  emulator        {lakehouse.endpoint_url} (S3, DynamoDB, Glue, Step Functions, SNS)",
        f"  raw data        s3://{names['raw_bucket']}/events|users/dt={day}/",
        f"  Iceberg tables  s3://{names['curated_bucket']}/{names['curated_database']}/",
        f"  run ledger      DynamoDB table {names['runs_table']}",
        f"  Lambda logs     {lakehouse.stack.dir / 'logs'}",
        f"  Airflow log     {lakehouse.stack.dir / 'dag-run.log'}",
        f"  rerun this day  make rerun DAY={day} (docs/runbooks.md: runs are addressed by day)",
        f"  run's own DuckDB {lakehouse.stack.dir / 'warehouse__<run_key>.duckdb'} (its staging"
        " relations; deleted once the run succeeded, kept for a redrive when it failed)",
    ]
    return "\n".join(lines), facts


def _day_objects(s3, bucket: str, day: date) -> set[str]:
    keys = set()
    for table in ("events", "users"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{table}/dt={day.isoformat()}/"
        )
        keys |= {o["Key"] for page in pages for o in page.get("Contents", [])}
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--keep", action="store_true", help="(the default now: the stack's data is always kept)"
    )
    args = parser.parse_args(argv)
    if args.events < 0:
        parser.error("--events must be >= 0")
    try:
        airflow.airflow_bin()  # before anything starts: a missing virtualenv is a one-line error
    except FileNotFoundError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2

    stack = LocalStack()
    print(f"[1/4] local stack in {stack.dir} (attached if running, data kept) ...", flush=True)
    try:
        provisioned = stack.up()
    except StackError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print(f"      emulator at {provisioned.endpoint_url}", flush=True)
    lakehouse = Lakehouse(stack)
    print(f"[2/4] generating {args.events} events for {args.day} ...", flush=True)
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    before = _day_objects(s3, bucket, args.day)
    written = sample_data.write_day(s3, bucket, args.day, args.events, args.seed)
    stale = sorted(before - set(written.files))
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
    print(f"      {written.events} events, {written.users} users", flush=True)
    if before:
        print(
            f"      the day had {len(before)} raw files already: written again"
            + (f", {len(stale)} left from an earlier size removed" if stale else "")
            + " (a day that ran already runs again, as a new try)",
            flush=True,
        )
    print(f"[3/4] running the DAG {DAG_ID} for {args.day} (airflow dags test) ...", flush=True)
    started = time.monotonic()
    code = run_dag_for_day(stack, args.day)
    print(
        f"      DAG run {'succeeded' if code == 0 else 'FAILED'} in "
        f"{time.monotonic() - started:.0f}s (log: {stack.dir / 'dag-run.log'})",
        flush=True,
    )
    print("[4/4] reading back the results\n", flush=True)
    text, _ = summary(lakehouse, args.day)
    print(text)
    print("\nData-quality report (Elementary's tables): make report -> dist/report/index.html")
    print(
        "\nThe local stack keeps running for inspection; make stack-down stops it and keeps its"
        f" data in {stack.dir} (make reset deletes it)"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
