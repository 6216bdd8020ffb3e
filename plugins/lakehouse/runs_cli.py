"""`runs`: read the run ledger from a terminal.

  runs list [--limit N] [--status FAILED]   recent runs, newest first
  runs show RUN [--json]                     one run's whole record (--json: the raw item)
  runs day DAY                               the runs for DAY (the first day of their interval)
  runs rerun DAY                             run DAY again (its latest run, cleared)
  runs redrive RUN                           repeat a FAILED run from the stage that failed
  runs backfill FIRST LAST                   one run per day, FIRST..LAST, both included

Reading needs only boto3 (no Airflow): the table is reached with the normal AWS credential
chain, or at --endpoint-url. `scripts/lakehouse runs` (lakehouse_ops/cli.py) runs this against
the local stack by default and picks the table from the naming rule with --env. rerun, redrive
and backfill also act through Airflow: the caller passes how (`airflow`, see `act`); on MWAA the
same requests are the REST API calls in docs/runbooks.md. Which run a day means is decided here,
from the ledger (lakehouse.run_days), never from Airflow's logical dates.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from lakehouse import run_days
from lakehouse.ledger import RunLedger, RunNotFound
from lakehouse.mwaa_airflow import AirflowUnavailable
from lakehouse.run_record import STATUSES
from lakehouse.summary import as_json, format_run, format_runs


class UsageError(Exception):
    """The command line cannot be served (missing table, no stack, ...)."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _day(text: str) -> date:
    try:
        return run_days.as_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _status(text: str) -> str:
    if text.upper() not in STATUSES:
        raise argparse.ArgumentTypeError(f"one of {', '.join(STATUSES)}, got {text!r}")
    return text.upper()


def build_parser(parents: list[argparse.ArgumentParser] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/runs", description="Read the pipeline's run ledger.", parents=parents or []
    )
    parser.add_argument(
        "--table",
        default=os.environ.get("LAKEHOUSE_RUNS_TABLE"),
        help="run ledger table (env LAKEHOUSE_RUNS_TABLE)",
    )
    parser.add_argument(
        "--pipeline",
        default=os.environ.get("LAKEHOUSE_PIPELINE"),
        help="the ledger's partition key (env LAKEHOUSE_PIPELINE)",
    )
    parser.add_argument("--region", help="AWS region (default: the AWS credential chain's)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: AWS's)")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{list,show,day,rerun,redrive,backfill}"
    )
    listing = commands.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--limit", type=_positive, default=20, help="at most N runs (20)")
    listing.add_argument("--status", type=_status, help="only runs of this status")
    show = commands.add_parser("show", help="one run's whole record")
    show.add_argument("run_id", metavar="RUN", help="the run id (the DAG run id)")
    show.add_argument("--json", action="store_true", help="the raw ledger item as JSON")
    day = commands.add_parser("day", help="the runs for a day (the first day of their interval)")
    day.add_argument("day", type=_day, metavar="DAY", help="YYYY-MM-DD")
    rerun = commands.add_parser("rerun", help="run a day again: its latest run, cleared")
    rerun.add_argument("day", type=_day, metavar="DAY", help="YYYY-MM-DD")
    redrive = commands.add_parser("redrive", help="repeat a FAILED run from its failed stage")
    redrive.add_argument("run_id", metavar="RUN", help="the failed run's id")
    backfill = commands.add_parser("backfill", help="one run per day, FIRST..LAST included")
    backfill.add_argument("first", type=_day, metavar="FIRST", help="YYYY-MM-DD")
    backfill.add_argument("last", type=_day, metavar="LAST", help="YYYY-MM-DD (included)")
    return parser


def ledger(args: argparse.Namespace, credentials: dict | None = None) -> RunLedger:
    import boto3

    if not args.table:
        raise UsageError("no run ledger table: pass --table or set LAKEHOUSE_RUNS_TABLE")
    if not args.pipeline:
        raise UsageError("no pipeline: pass --pipeline or set LAKEHOUSE_PIPELINE")
    session = boto3.session.Session(region_name=args.region, **(credentials or {}))
    if session.region_name is None:
        raise UsageError("no AWS region: pass --region or configure one (AWS_REGION)")
    dynamodb = session.resource("dynamodb", endpoint_url=args.endpoint_url)
    return RunLedger(args.table, dynamodb=dynamodb)


def run(args: argparse.Namespace, credentials: dict | None = None, out=None, airflow=None) -> int:
    out = out or sys.stdout
    runs = ledger(args, credentials)
    if args.command in ACTIONS:
        if airflow is None:
            raise UsageError(
                f"{args.command} acts through Airflow, which this command cannot reach here: "
                "on MWAA pass --mwaa ENVIRONMENT (scripts/runs) or use the REST API calls of "
                "docs/runbooks.md"
            )
        return act(args, runs, airflow, out)
    if args.command == "day":
        records = run_days.runs_for_day(runs.recent(args.pipeline), args.day)
        if not records:
            raise run_days.NoRunForDay(f"no run for day {args.day} in {args.table}")
        print(format_runs(records), file=out)
        return 0
    if args.command == "list":
        records = runs.recent(args.pipeline, limit=args.limit, status=args.status)
        if not records:
            print(
                f"no {args.status + ' ' if args.status else ''}runs of {args.pipeline}"
                f" in {args.table}",
                file=out,
            )
        else:
            print(format_runs(records), file=out)
        return 0
    record = runs.require(args.pipeline, args.run_id)
    print(as_json(record) if args.json else format_run(record), file=out)
    return 0


ACTIONS = ("rerun", "redrive", "backfill")
NO_SCHEDULER = "No Airflow scheduler runs this DAG (none is running, or the DAG is paused): "


def act(args: argparse.Namespace, runs: RunLedger, airflow, out) -> int:
    """rerun, redrive, backfill: pick the runs from the ledger, act through `airflow`, and say
    what was done, for which day, and where to watch.

    `airflow` is how this environment reaches Airflow: `scheduler_running()` (a scheduler will
    run this DAG's runs: one is alive and the DAG is not paused), `clear(run_id)`
    (False when Airflow has no such run), `trigger(conf)` (the new run id),
    `backfill(first, last)` (Airflow's backfill of the runs whose logical date falls on those
    days), `run_foreground(day, conf)` (the day's run without a scheduler: its exit code),
    `log(day)` (where that run logs) and `watch` (where to follow a run)."""
    # What the command means is settled from the ledger before Airflow is asked anything: a
    # wrong day or run fails at once, whatever state Airflow is in.
    records = runs.recent(args.pipeline)
    if args.command == "rerun":
        latest = run_days.run_for_day(records, args.day)
        what = f"day {args.day}'s latest run {latest['run_id']} ({latest.get('status')})"
        if airflow.scheduler_running():
            if airflow.clear(latest["run_id"]):
                print(f"Cleared {what}: the scheduler runs it again.", file=out)
                print(f"Watch: {airflow.watch}; then: runs day {args.day}", file=out)
                return 0
            conf = run_days.interval_params(args.day)
            new = airflow.trigger(conf)
            print(
                f"Airflow no longer has {what}; triggered DAG run {new} for day {args.day} "
                f"(params {conf}).\nWatch: {airflow.watch}; then: runs day {args.day}",
                file=out,
            )
            return 0
        print(
            NO_SCHEDULER + f"running day {args.day} here, as a new DAG run with the default "
            f"params (its latest run: {latest['run_id']}, {latest.get('status')}).",
            file=out,
        )
        return _foreground(args, runs, airflow, out, args.day, None)
    if args.command == "redrive":
        failed = run_days.redrivable(runs.get(args.pipeline, args.run_id), args.run_id)
        day = run_days.day_of(failed)
        what = f"redriving {args.run_id} (day {day}, failed in {failed.get('failed_stage')})"
        conf = {"redrive_of": args.run_id}
        if airflow.scheduler_running():
            new = airflow.trigger(conf)
            print(f"Triggered DAG run {new}, {what}.", file=out)
            print(f"Watch: {airflow.watch}; then: runs day {day}", file=out)
            return 0
        print(NO_SCHEDULER + f"{what}, here.", file=out)
        return _foreground(args, runs, airflow, out, day, conf)
    days = run_days.days_between(args.first, args.last)
    if airflow.scheduler_running():
        airflow.backfill(args.first, args.last)
        print(
            f"Created an Airflow backfill of {len(days)} day(s), {args.first} .. {args.last}: "
            "one DAG run per day (failed or missing days run; done days are skipped).",
            file=out,
        )
        print(f"Watch: {airflow.watch}; then: runs list", file=out)
        return 0
    todo, skipped = run_days.days_to_backfill(records, days)
    for day, record in skipped.items():
        print(f"{day}: skipped, its latest run {record['run_id']} is {record['status']}", file=out)
    print(
        NO_SCHEDULER + f"running {len(todo)} day(s) here, one at a time.",
        file=out,
    )
    code = 0
    for day in todo:
        code = _foreground(args, runs, airflow, out, day, None) or code
    return code


def _foreground(args, runs: RunLedger, airflow, out, day: date, conf: dict | None) -> int:
    before = {r["run_id"] for r in run_days.runs_for_day(runs.recent(args.pipeline), day)}
    print(f"{day}: running (log: {airflow.log(day)}) ...", file=out, flush=True)
    code = airflow.run_foreground(day, conf)
    new = [
        r
        for r in run_days.runs_for_day(runs.recent(args.pipeline), day)
        if r["run_id"] not in before
    ]
    if not new:
        print(f"{day}: the run recorded nothing in the run ledger (exit {code})", file=out)
        return code or 1
    print(f"{day}: DAG run {new[0]['run_id']} {new[0].get('status')}", file=out)
    return code


def main(
    argv: list[str] | None = None,
    parents: list[argparse.ArgumentParser] | None = None,
    defaults: dict | None = None,
    credentials: dict | None = None,
    airflow=None,
) -> int:
    """`defaults` (table, pipeline, region, endpoint_url) fill what the command line left out."""
    args = build_parser(parents).parse_args(argv)
    for key, value in (defaults or {}).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    try:
        return run(args, credentials, airflow=airflow)
    except (
        UsageError,
        RunNotFound,
        AirflowUnavailable,
        run_days.NoRunForDay,
        run_days.NotRedrivable,
        ValueError,
    ) as exc:
        print(f"runs: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # botocore errors: say what failed, without a traceback
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError | BotoCoreError):
            print(f"runs: cannot read the run ledger {args.table}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
