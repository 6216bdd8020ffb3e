"""`runs`: read the run ledger from a terminal.

  runs list [--limit N] [--status FAILED]   recent runs, newest first
  runs show RUN [--json]                     one run's whole record (--json: the raw item)

Needs only boto3 (no Airflow): the table is reached with the normal AWS credential chain, or
at --endpoint-url. `scripts/runs` (local/runs.py) runs this against the local stack by default
and picks the table from the deployment's naming rule with --env.
"""

from __future__ import annotations

import argparse
import os
import sys

from lakehouse.ledger import RunLedger, RunNotFound
from lakehouse.summary import as_json, format_run, format_runs

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED")


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
    commands = parser.add_subparsers(dest="command", required=True, metavar="{list,show}")
    listing = commands.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--limit", type=_positive, default=20, help="at most N runs (20)")
    listing.add_argument("--status", type=_status, help="only runs of this status")
    show = commands.add_parser("show", help="one run's whole record")
    show.add_argument("run_id", metavar="RUN", help="the run id (the DAG run id)")
    show.add_argument("--json", action="store_true", help="the raw ledger item as JSON")
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


def run(args: argparse.Namespace, credentials: dict | None = None, out=None) -> int:
    out = out or sys.stdout
    runs = ledger(args, credentials)
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


def main(
    argv: list[str] | None = None,
    parents: list[argparse.ArgumentParser] | None = None,
    defaults: dict | None = None,
    credentials: dict | None = None,
) -> int:
    """`defaults` (table, pipeline, region, endpoint_url) fill what the command line left out."""
    args = build_parser(parents).parse_args(argv)
    for key, value in (defaults or {}).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    try:
        return run(args, credentials)
    except (UsageError, RunNotFound) as exc:
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
