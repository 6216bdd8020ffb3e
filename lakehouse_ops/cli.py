"""`scripts/lakehouse`: the operator's command, one code path for AWS and for the local stack.

  scripts/lakehouse runs list|show|day|rerun|redrive|backfill ...   the run ledger (scripts/runs)
  scripts/lakehouse report [--out DIR] [--days N]                   the data-quality report
  scripts/lakehouse quarantine --day DAY [--reason R] [--limit N]   a day's quarantined lines
  scripts/lakehouse maintain expire --older-than-days N | compact   Iceberg table maintenance
  scripts/lakehouse ingest sources | status --day DAY [--source S]  the API sources' ingestion

Where (options before or after the command):
  (nothing)              the local stack (.local-stack, or $LAKEHOUSE_STATE_DIR)
  --env ENV              a deployed environment: every name from the naming rule (--prefix,
                         --bucket-suffix), the normal AWS credential chain and --region
  --endpoint-url URL     that environment behind another endpoint (an emulator)
  --mwaa ENVIRONMENT     runs rerun/redrive/backfill through that MWAA environment's Airflow

Only the local stack's adapter (local/cli.py) knows how the local stack is reached: it passes
`attach`, which gives the stack's Environment (endpoint, dummy credentials) and its Airflow.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse_ops.environment import Environment

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_ENV = "local"
COMMANDS = ("runs", "report", "quarantine", "maintain", "ingest")


class UsageError(Exception):
    """The command cannot be served as given (no stack, an invalid name, ...)."""


@dataclass(frozen=True)
class Attached:
    """A local stack, as its adapter reaches it."""

    environment: Environment
    airflow: object | None = None


def _airflow_side_package() -> None:
    # plugins/ is MWAA's plugins folder, not an installed package: the ledger, run-day and
    # summary code the DAG uses is imported here the way Airflow imports it.
    plugins = str(REPO_ROOT / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)


def environment_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--env",
        default=os.environ.get("LAKEHOUSE_ENV"),
        help="deployment environment (env LAKEHOUSE_ENV); 'local' (the default) is the local "
        "stack, any other is AWS with the normal credential chain",
    )
    options.add_argument("--prefix", default="lakehouse", help="naming prefix (lakehouse)")
    options.add_argument("--bucket-suffix", default="", help="the buckets' naming suffix, if any")
    options.add_argument(
        "--mwaa",
        metavar="ENVIRONMENT",
        help="rerun/redrive/backfill through this MWAA environment's Airflow REST API "
        "(terraform output mwaa_environment)",
    )
    return options


def _endpoint_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--region", help="AWS region (default: the AWS credential chain's)")
    options.add_argument("--endpoint-url", help="AWS endpoint (default: AWS's)")
    return options


def resolve(
    env: str | None,
    prefix: str,
    bucket_suffix: str = "",
    region: str | None = None,
    endpoint_url: str | None = None,
    attach: Callable[[str], Attached] | None = None,
) -> Attached:
    """The environment the options name: the local stack unless --env names another (or an
    endpoint is given)."""
    env = env or LOCAL_ENV
    if env == LOCAL_ENV and not endpoint_url:
        if attach is None:
            raise UsageError("the local stack is reached through scripts/lakehouse (local/cli.py)")
        return attach(prefix)
    try:
        environment = Environment(
            env, prefix, bucket_suffix, region=region, endpoint_url=endpoint_url
        )
        environment.names  # noqa: B018 (the naming rule's checks, before any AWS call)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Attached(environment)


def _runs(argv: list[str], attach) -> int:
    _airflow_side_package()
    from lakehouse import runs_cli

    known, _ = environment_options().parse_known_args(argv)
    explicit_table = "--table" in argv or any(a.startswith("--table=") for a in argv)
    explicit_table = explicit_table or bool(os.environ.get("LAKEHOUSE_RUNS_TABLE"))
    help_only = any(a in ("-h", "--help") for a in argv)
    defaults: dict = {"pipeline": Environment(LOCAL_ENV).pipeline}
    credentials, airflow = None, None
    # A named table without an environment is a deployed one; the local stack otherwise.
    if (known.env or not explicit_table) and not help_only:
        endpoint, _ = _endpoint_options().parse_known_args(argv)
        try:
            attached = resolve(
                known.env, known.prefix, known.bucket_suffix, endpoint.region,
                endpoint.endpoint_url, attach,
            )  # fmt: skip
        except UsageError as exc:
            print(f"runs: {exc}", file=sys.stderr)
            return 1
        environment = attached.environment
        defaults["table"] = environment.names.runs_table
        if environment.endpoint_url:
            defaults["endpoint_url"] = environment.endpoint_url
        if environment.region:
            defaults["region"] = environment.region
        credentials, airflow = environment.credentials, attached.airflow
    if known.mwaa and (known.env or LOCAL_ENV) != LOCAL_ENV:
        import boto3
        from lakehouse.mwaa_airflow import MwaaAirflow

        region = _endpoint_options().parse_known_args(argv)[0].region
        airflow = MwaaAirflow(known.mwaa, boto3.client("mwaa", region_name=region))
    return runs_cli.main(
        argv,
        parents=[environment_options()],
        defaults=defaults,
        credentials=credentials,
        airflow=airflow,
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser(command: str) -> argparse.ArgumentParser:
    parents = [environment_options(), _endpoint_options()]
    parser = argparse.ArgumentParser(prog=f"scripts/lakehouse {command}", parents=parents)
    if command == "report":
        from lakehouse_ops.report import DEFAULT_OUT

        parser.description = "Write the data-quality report (Elementary's tables) as HTML."
        parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory")
        parser.add_argument(
            "--days", type=_positive, help="only the dbt invocations of the last N days"
        )
    elif command == "quarantine":
        parser.description = "Show the quarantined raw event lines of a landing day."
        parser.add_argument("--day", type=date.fromisoformat, required=True, help="landing day")
        parser.add_argument("--reason", help="only this reason (e.g. malformed_json)")
        parser.add_argument("--limit", type=_positive, default=1000, help="rows to print")
    elif command == "ingest":
        from lakehouse_ops.ingest import main_options

        main_options(parser)
    else:
        from lakehouse_ops.maintenance import TABLES

        parser.description = "Maintain the marts' Iceberg tables."
        actions = parser.add_subparsers(dest="action", required=True)
        expire = actions.add_parser("expire", help="expire snapshots older than N days")
        expire.add_argument("--older-than-days", type=int, required=True)
        compact = actions.add_parser("compact", help="rewrite each table's data files")
        for action in (expire, compact):
            action.add_argument("--table", choices=TABLES, action="append")
    return parser


def _serve(command: str, args: argparse.Namespace, environment: Environment) -> int:
    if command == "report":
        from lakehouse_ops import report

        page = report.write(environment, args.out.resolve(), args.days)
        print(f"data-quality report: {page}")
        return 0
    if command == "quarantine":
        from lakehouse_ops import quarantine

        return quarantine.show(environment, args.day, args.reason, args.limit)
    if command == "ingest":
        from lakehouse_ops import ingest

        return ingest.serve(environment, args)
    from lakehouse_ops import maintenance

    for name in args.table or maintenance.TABLES:
        if args.action == "expire":
            print(maintenance.expire(environment, name, args.older_than_days))
        else:
            print(maintenance.compact(environment, name))
    return 0


def main(argv: list[str] | None = None, attach: Callable[[str], Attached] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    position = next((i for i, a in enumerate(argv) if a in COMMANDS), None)
    if position is None:
        print(__doc__, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[position], argv[:position] + argv[position + 1 :]
    if command == "runs":
        return _runs(rest, attach)
    args = _parser(command).parse_args(rest)
    if command == "maintain" and args.action == "expire" and args.older_than_days < 0:
        _parser(command).error("--older-than-days must be >= 0")
    try:
        attached = resolve(
            args.env, args.prefix, args.bucket_suffix, args.region, args.endpoint_url, attach
        )
        return _serve(command, args, attached.environment)
    except UsageError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # AWS errors: say what failed, without a traceback
        from botocore.exceptions import BotoCoreError, ClientError
        from pyiceberg.exceptions import NoSuchTableError

        from lakehouse_ops.ingest import IngestStatusError

        if isinstance(exc, ClientError | BotoCoreError | NoSuchTableError | IngestStatusError):
            print(f"{command}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
