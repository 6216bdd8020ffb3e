"""`make athena-check ENV=<env>`: the cross-engine corpus (corpus.json) on a deployed
environment's Athena, through its own dbt-executor, with the outcomes diffed against the corpus.

CI runs the same corpus on DuckDB (tests/integration/test_parity_corpus.py); this is the other
half of the comparison, for users with an AWS account (it cannot run where there is none).

What it does, with the normal AWS credential chain:
  1. writes each case's object under `events/dt=<corpus day>/parity-<stamp>/` of the raw bucket
     (a sub-folder of its own: other objects of that day are parsed too, but never compared);
  2. invokes the dbt-executor's staging stage for that day with a run key of its own (the marts
     are not touched);
  3. reads the parse's outcomes of its own objects from the run's `stg_raw_event_lines` relation
     with Athena, in the function's workgroup and query-results location;
  4. invokes the cleanup stage (drops the run's relations) and deletes the objects it wrote
     (`--keep` leaves them for a look).
Exit status: 0 every case met, 1 some did not (each listed), 2 the check could not run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.parity import corpus as parity

MODEL = "stg_raw_event_lines"
# Read back: the rows of the check's own objects only (see OUTCOMES_SQL's columns).
OWN_ROWS = "where source_file like '%{path}%'"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9=/_.-]+$")
QUERY_TIMEOUT_S = 600

OutcomeReader = Callable[[str, str], list[dict]]


class CheckError(RuntimeError):
    """The check could not run to its comparison (a failed invocation, query or setup)."""


@dataclass(frozen=True)
class Deployment:
    raw_bucket: str
    dbt_executor_function: str


def stamp_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def own_rows_sql(relation: str, path: str) -> str:
    if not _SAFE_PATH.match(path):
        raise CheckError(f"not a path the check writes: {path!r}")
    return parity.OUTCOMES_SQL.format(table=relation) + OWN_ROWS.format(path=path)


def invoke(lambda_client, function: str, event: dict) -> dict:
    """The function's answer; a function error (Unhandled, DbtRunError...) as a CheckError with
    the function's own message."""
    response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        kind = payload.get("errorType") if isinstance(payload, dict) else response["FunctionError"]
        raise CheckError(f"{function} failed on {event['select']} ({kind}): {message}")
    return payload


def relation_of(record: dict, model: str) -> str:
    for entry in record.get("models") or []:
        if entry.get("name") == model and entry.get("relation"):
            return entry["relation"]
    raise CheckError(f"the staging record names no relation for {model}: {record.get('models')}")


def run_check(
    s3,
    lambda_client,
    read_outcomes: OutcomeReader,
    deployment: Deployment,
    corpus: parity.Corpus,
    stamp: str,
    keep: bool = False,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Every case whose lines did not get the expected outcome (empty: all met)."""
    prefix = f"parity-{stamp}/"
    run_key = f"parity_{stamp}"
    event = {
        "stage": "dbt_staging",
        "select": "staging",
        "run_id": f"athena-check-{stamp}",
        "run_key": run_key,
        "interval": corpus.interval,
    }
    _refuse_leftovers(s3, deployment.raw_bucket, corpus)
    keys = parity.upload(s3, deployment.raw_bucket, corpus, prefix)
    say(f"wrote {len(keys)} objects under s3://{deployment.raw_bucket}/{corpus.key_prefix(prefix)}")
    try:
        say(f"parsing {corpus.landing_day} with {deployment.dbt_executor_function} ({run_key})")
        record = invoke(lambda_client, deployment.dbt_executor_function, event)
        rows = read_outcomes(relation_of(record, MODEL), f"/{corpus.key_prefix(prefix)}")
        say(f"read {len(rows)} outcomes of {corpus.lines()} corpus lines")
        return parity.mismatches(corpus, rows, prefix)
    finally:
        try:
            invoke(lambda_client, deployment.dbt_executor_function, {**event, "select": "cleanup"})
        except CheckError as exc:  # the comparison stands; the leftovers are named
            say(f"cleanup failed, the run's relations ({run_key}) remain: {exc}")
        if not keep:
            for key in keys:
                s3.delete_object(Bucket=deployment.raw_bucket, Key=key)


def _refuse_leftovers(s3, bucket: str, corpus: parity.Corpus) -> None:
    """An earlier check's objects (`--keep`) hold the corpus' event ids on the same landing day:
    every line would be a duplicate of them. They go first."""
    earlier = corpus.key_prefix("parity-")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=earlier, MaxKeys=1)
    if listed.get("KeyCount", 0):
        key = listed["Contents"][0]["Key"]
        folder = corpus.key_prefix() + key.removeprefix(corpus.key_prefix()).split("/")[0]
        raise CheckError(
            f"an earlier check's objects remain under s3://{bucket}/{earlier}* (their event ids "
            f"would make every corpus line a duplicate): delete them first "
            f"(aws s3 rm --recursive s3://{bucket}/{folder}/)"
        )


class AthenaOutcomes:
    """Reads the outcomes with Athena: one query, waited for, its result pages as dicts."""

    def __init__(self, athena, workgroup: str, output_location: str | None):
        self.athena = athena
        self.workgroup = workgroup
        self.output_location = output_location

    def __call__(self, relation: str, path: str) -> list[dict]:
        request = {"QueryString": own_rows_sql(relation, path), "WorkGroup": self.workgroup}
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        query_id = self.athena.start_query_execution(**request)["QueryExecutionId"]
        deadline = time.monotonic() + QUERY_TIMEOUT_S
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=query_id)
            state = status["QueryExecution"]["Status"]
            if state["State"] == "SUCCEEDED":
                break
            if state["State"] in ("FAILED", "CANCELLED"):
                raise CheckError(
                    f"Athena query {query_id} {state['State']}: {state.get('StateChangeReason')}"
                )
            if time.monotonic() > deadline:
                raise CheckError(f"Athena query {query_id} still {state['State']}")
            time.sleep(1)
        return result_rows(self.athena.get_paginator("get_query_results").paginate(
            QueryExecutionId=query_id))  # fmt: skip


def result_rows(pages) -> list[dict]:
    """GetQueryResults pages as dicts: the first row of the first page is the header; a missing
    VarCharValue is SQL null."""
    header, rows = None, []
    for page in pages:
        for row in page["ResultSet"]["Rows"]:
            values = [cell.get("VarCharValue") for cell in row["Data"]]
            if header is None:
                header = values
            else:
                rows.append(dict(zip(header, values, strict=True)))
    return rows


def _function_environment(lambda_client, function: str) -> dict:
    configuration = lambda_client.get_function_configuration(FunctionName=function)
    return (configuration.get("Environment") or {}).get("Variables") or {}


def main(argv: list[str] | None = None) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from lakehouse_ops.naming import resource_names

    parser = argparse.ArgumentParser(prog="make athena-check", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the deployed environment (e.g. sandbox)")
    parser.add_argument("--prefix", default="lakehouse", help="naming prefix (lakehouse)")
    parser.add_argument("--region", help="AWS region (default: the credential chain's)")
    parser.add_argument("--keep", action="store_true", help="leave the corpus objects in raw")
    args = parser.parse_args(argv)
    try:
        names = resource_names(args.prefix, args.env)
        session = boto3.session.Session(region_name=args.region)
        # The staging stage may run for minutes: no SDK retry may invoke it twice.
        slow = Config(read_timeout=960, retries={"max_attempts": 0})
        lambda_client = session.client("lambda", config=slow)
        function_env = _function_environment(lambda_client, names.dbt_executor_function)
        if function_env.get("DBT_TARGET") != "athena":
            raise CheckError(f"{names.dbt_executor_function} does not run the athena target")
        reader = AthenaOutcomes(
            session.client("athena"),
            function_env.get("ATHENA_WORKGROUP", "primary"),
            function_env.get("ATHENA_RESULTS_S3"),
        )
        problems = run_check(
            session.client("s3"),
            lambda_client,
            reader,
            Deployment(names.raw_bucket, names.dbt_executor_function),
            parity.load(),
            stamp_now(),
            keep=args.keep,
        )
    except (CheckError, ValueError, BotoCoreError, ClientError) as exc:
        print(f"athena-check: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"MISMATCH {problem}")
    print(f"{len(problems)} case(s) differ from the corpus" if problems else "every case met")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
