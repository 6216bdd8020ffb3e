"""Where the ingestion of API sources stands: the sources the ingest function reads, and for a
day, each source's state in the raw bucket.

  scripts/lakehouse ingest sources                       the declared sources, checked
  scripts/lakehouse ingest token --source NAME < token   put a source's token in its secret
  scripts/lakehouse ingest status --day 2026-11-20 [--source NAME] [--json]
  scripts/lakehouse --env sandbox ingest status --day 2026-11-20

What the function reads is taken from the deployed function's configuration (its RAW_BUCKET,
INGEST_STATE_PREFIX and INGEST_SOURCES_FILE), so the answer is about the files and objects it
uses, on AWS and on the local stack alike. A function whose configuration cannot be read (no
lambda:GetFunctionConfiguration) is assumed to have the settings Terraform gives it: the naming
rule's raw bucket, contracts/functions.json's state prefix and the checkout's
contracts/sources.json (the file the image carries).

A day of a source is, from its objects (lambdas/dbt_runtime/ingestion.py writes them):
  not ingested  no state and nothing landed
  interrupted   pages staged under the state prefix, the next page's request saved, nothing
                landed: a rerun or redrive of the day's run resumes at the next page
  fetched       every page staged, not yet copied to the day folder (the next invocation lands)
  complete      every page landed in the day folder; the staged copies are gone
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse_ops.environment import Environment

REPO_ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"fetching": "interrupted", "fetched": "fetched", "complete": "complete"}


class IngestStatusError(Exception):
    """The sources or the state cannot be read as the function would read them."""


def _lambda_side_package() -> None:
    # The sources declaration and the objects' layout are the ingest function's own code
    # (lambdas/dbt_runtime), imported the way Lambda imports it rather than restated here.
    import sys

    lambdas = str(REPO_ROOT / "lambdas")
    if lambdas not in sys.path:
        sys.path.insert(0, lambdas)


@dataclass(frozen=True)
class Settings:
    """What the ingest function reads: where, and which declaration."""

    raw_bucket: str
    state_prefix: str
    sources_file: Path
    read_from: str  # the function's configuration, or the defaults Terraform gives it


def settings(env: Environment, sources_file: Path | None = None) -> Settings:
    from botocore.exceptions import ClientError

    with open(REPO_ROOT / "contracts" / "functions.json") as fh:
        default_prefix = json.load(fh)["ingest_state_prefix"]
    function = env.names.ingest_function
    try:
        configuration = env.client("lambda").get_function_configuration(FunctionName=function)
        variables = (configuration.get("Environment") or {}).get("Variables") or {}
        read_from = f"function {function}"
    except ClientError:
        variables, read_from = {}, f"defaults (function {function} not readable)"
    declared = variables.get("INGEST_SOURCES_FILE")
    if sources_file is None and declared:
        sources_file = Path(declared)
        if not sources_file.is_file():
            raise IngestStatusError(
                f"{function} reads the sources file {declared}, which is not on this machine: "
                "pass --sources-file"
            )
    return Settings(
        raw_bucket=variables.get("RAW_BUCKET") or env.names.raw_bucket,
        state_prefix=(variables.get("INGEST_STATE_PREFIX") or default_prefix).strip("/"),
        sources_file=sources_file or REPO_ROOT / "contracts" / "sources.json",
        read_from=read_from,
    )


def declared(found: Settings) -> dict:
    _lambda_side_package()
    from dbt_runtime import sources

    try:
        return sources.load(found.sources_file)
    except sources.SourceConfigError as exc:
        raise IngestStatusError(str(exc)) from None


def day_status(s3, found: Settings, source, day: date) -> dict:
    """One source's day, read from its state and its staged and landed objects."""
    _lambda_side_package()
    from dbt_runtime.ingest_layout import Location

    where = Location(found.raw_bucket, found.state_prefix)
    text = day.isoformat()
    try:
        body = s3.get_object(Bucket=found.raw_bucket, Key=where.state_key(source, text))["Body"]
        state = json.loads(body.read())
    except s3.exceptions.NoSuchKey:
        state = None
    staged = _objects(s3, found.raw_bucket, where.staged_prefix(source, text))
    landed = _objects(s3, found.raw_bucket, where.landed_prefix(source, text))
    pages = (state or {}).get("pages") or []
    if state is None:
        status = "landed without a state" if landed else "not ingested"
    else:
        status = STATUSES.get(state.get("status"), f"unknown ({state.get('status')})")
    return {
        "source": source.name,
        "dataset": source.dataset,
        "day": text,
        "status": status,
        "enabled": source.enabled,
        "pages": len(pages),
        "records": sum(p["records"] for p in pages),
        "bytes": sum(p["bytes"] for p in pages),
        "next_request": (state or {}).get("next_params"),
        "totals": (state or {}).get("totals") or {},
        "state": f"s3://{found.raw_bucket}/{where.state_key(source, text)}" if state else None,
        "staged": staged,
        "landed": landed,
    }


def _objects(s3, bucket: str, prefix: str) -> list[dict]:
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found.append({"key": f"s3://{bucket}/{item['Key']}", "bytes": item["Size"]})
    return found


def show_sources(env: Environment, sources_file: Path | None = None) -> int:
    found = settings(env, sources_file)
    declared_sources = declared(found)
    print(f"sources file {found.sources_file} (as read by {found.read_from}): checked")
    for name, source in sorted(declared_sources.items()):
        secret = source.secret_id(env.names.source_secrets_prefix) or "no auth"
        print(
            f"{name} {'enabled' if source.enabled else 'disabled'} -> {source.dataset}: "
            f"{source.base_url}{source.endpoint}, secret {secret}, cursor paginator "
            f"({source.cursor_path} -> ?{source.cursor_param}=), day by {source.cursor_field}, "
            f"{source.page_size} per page"
        )
    if not declared_sources:
        print("no source is declared: the ingest function skips")
    return 0


def put_token(env: Environment, source_name: str, token: str, sources_file=None) -> int:
    """Put `token` in the source's Secrets Manager secret, where the function reads it.

    Terraform creates the secret of every enabled source that authenticates (empty: the token
    is the API owner's to give); where none exists yet (the local stack creates no source
    secrets) it is created here."""
    found = settings(env, sources_file)
    source = declared(found).get(source_name)
    if source is None:
        raise IngestStatusError(f"no source {source_name!r} in {found.sources_file}")
    if source.auth_type == "none":
        raise IngestStatusError(f"source {source_name!r} authenticates with nothing: no secret")
    token = token.strip()
    if not token:
        raise IngestStatusError("no token on standard input")
    secrets, secret = (
        env.client("secretsmanager"),
        source.secret_id(env.names.source_secrets_prefix),
    )
    try:
        secrets.put_secret_value(SecretId=secret, SecretString=token)
        print(f"put a new value in secret {secret} (source {source_name})")
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=secret, SecretString=token)
        print(f"created secret {secret} (source {source_name}) with the token")
    return 0


def show_status(
    env: Environment,
    day: date,
    source_name: str | None = None,
    as_json: bool = False,
    sources_file: Path | None = None,
) -> int:
    found = settings(env, sources_file)
    declared_sources = declared(found)
    if source_name is not None:
        if source_name not in declared_sources:
            raise IngestStatusError(
                f"no source {source_name!r} in {found.sources_file} "
                f"(declared: {', '.join(sorted(declared_sources)) or 'none'})"
            )
        chosen = [declared_sources[source_name]]
    else:
        chosen = [s for _, s in sorted(declared_sources.items()) if s.enabled]
    s3 = env.client("s3")
    days = [day_status(s3, found, source, day) for source in chosen]
    if as_json:
        print(json.dumps(days, indent=2))
        return 0
    if not chosen:
        print(f"no source is enabled in {found.sources_file}: the ingest function skips")
    for entry in days:
        _print_day(entry)
    return 0


def _print_day(entry: dict) -> None:
    totals = entry["totals"]
    line = f"{entry['source']} {entry['day']}: {entry['status']}"
    if entry["state"]:
        line += (
            f", {entry['pages']} page(s), {entry['records']} record(s), {entry['bytes']} bytes "
            f"fetched in {totals.get('invocations', 0)} invocation(s), "
            f"{totals.get('requests', 0)} request(s), {totals.get('retries', 0)} retried"
        )
    print(line)
    if entry["status"] == "interrupted":
        following = entry["next_request"]
        print(
            f"  resumes at page {entry['pages'] + 1} with {json.dumps(following, sort_keys=True)}"
            ": rerun or redrive the day's run (docs/runbooks.md)"
        )
    if entry["state"]:
        print(f"  state   {entry['state']}")
    for kind in ("staged", "landed"):
        for item in entry[kind]:
            print(f"  {kind:<7} {item['key']} {item['bytes']} bytes")


def main_options(parser) -> None:
    """The `ingest` command's arguments (lakehouse_ops/cli.py)."""
    parser.description = "Where the ingestion of API sources stands (lakehouse_ops/ingest.py)."
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("sources", help="the declared sources, checked as the function")
    status = actions.add_parser("status", help="a day's ingestion state, per source")
    status.add_argument("--day", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    status.add_argument("--source", help="only this source (default: every enabled one)")
    status.add_argument("--json", action="store_true", help="the state as JSON")
    token = actions.add_parser("token", help="put a source's token (standard input) in its secret")
    token.add_argument("--source", required=True, help="the source's name")
    for action in (listing, status, token):
        action.add_argument(
            "--sources-file",
            type=Path,
            default=None,
            help="the sources declaration to read (default: the one the ingest function reads)",
        )


def serve(env: Environment, args) -> int:
    if args.action == "sources":
        return show_sources(env, args.sources_file)
    if args.action == "token":
        import sys

        return put_token(env, args.source, sys.stdin.read(), args.sources_file)
    return show_status(env, args.day, args.source, args.json, args.sources_file)
