"""The cross-engine corpus (tests/parity/corpus.json) through the dbt-executor's staging stage
on the local target: every line gets the outcome the corpus states, which is also what
`make athena-check` requires of Athena. The stage's own accounting check runs too: the lines
Python counts from the bytes (CR, CRLF, BOM, U+0001, invalid UTF-8) equal the rows of the parse."""

from __future__ import annotations

import boto3
import pytest

from tests.parity import corpus as parity

pytestmark = pytest.mark.integration
OUTCOME_COLUMNS = ("source_file", "disposition", "reason", "event_id", "event_ts", "revenue")


@pytest.fixture
def staged(lambda_env, tmp_path, monkeypatch):
    import tempfile
    from pathlib import Path

    from dbt_runtime import dbt_invocation
    from dbt_runtime.dbt_invocation import Interval
    from dbt_runtime.handlers import dbt_executor
    from dbt_runtime.settings import Settings

    from local.lambda_bootstrap import LambdaContext

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("DBT_PROJECT_DIR", str(repo / "dbt_project"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    corpus = parity.load()
    s3 = boto3.client("s3", endpoint_url=Settings.from_env().endpoint_url)
    parity.upload(s3, lambda_env.raw_bucket, corpus)
    event = {
        "stage": "dbt_staging",
        "select": "staging",
        "run_id": "parity-corpus",
        "run_key": "rparitycorpus",
        "interval": corpus.interval,
    }
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", lambda_env.dbt_executor_function)
    record = dbt_executor.handler(event, LambdaContext(timeout_s=900))
    settings = Settings.from_env().for_run(event["run_key"])
    dbt_vars = dbt_invocation.dbt_vars(settings, event, Interval.from_event(event))
    sql = parity.OUTCOMES_SQL.format(table="{{ ref('stg_raw_event_lines') }}")
    rows = [dict(zip(OUTCOME_COLUMNS, row, strict=True)) for row in dbt_invocation.show(
        settings, sql, dbt_vars, limit=10_000)]  # fmt: skip
    dbt_invocation.release_local_database(settings)
    yield corpus, record, rows
    for case in corpus.cases:  # the stack is the module's: later tests write the same ids
        s3.delete_object(Bucket=lambda_env.raw_bucket, Key=corpus.key(case))


def test_every_corpus_line_gets_its_outcome_on_duckdb(staged):
    corpus, record, rows = staged
    assert record["status"] == "SUCCEEDED"
    problems = parity.mismatches(corpus, rows)
    assert not problems, "\n".join(problems)
    assert len(rows) == corpus.lines()
    figures = record["accounting"]["events"][corpus.landing_day.isoformat()]
    unreadable = sum(e.get("reason") == "unreadable_file" for c in corpus.cases for e in c.expect)
    assert figures["delivered"] + figures["unreadable_objects"] == corpus.lines()
    assert figures["unreadable_objects"] == unreadable


def test_a_wrong_expectation_is_reported_with_its_case(staged):
    """The comparison can fail: a corpus whose expectation is wrong names that case."""
    corpus, _, rows = staged
    first = corpus.cases[0]
    wrong = parity.Case(first.name, first.object, first.body, [{"disposition": "held_back"}])
    changed = parity.Corpus(corpus.landing_day, [wrong, *corpus.cases[1:]])
    problems = parity.mismatches(changed, rows)
    assert len(problems) == 1 and problems[0].startswith(f"{first.name} ({first.object})")


def run_file_outcomes(function_env: dict, run_key: str):
    """The local half of athena_check's read: the run's own DuckDB file stands where Athena's
    curated database does (the relation the record names lives there)."""
    from pathlib import Path

    import duckdb

    from tests.parity.athena_check import own_rows_sql

    base = Path(function_env["DUCKDB_PATH"])
    run_file = base.with_name(f"{base.stem}__{run_key}{base.suffix}")

    def read(relation: str, path: str) -> list[dict]:
        with duckdb.connect(str(run_file), read_only=True) as db:
            cursor = db.execute(own_rows_sql(relation, path))
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    return read, run_file


def test_the_athena_check_runs_its_flow_through_the_deployed_function(local_stack):
    """athena_check end to end on the local stack, Athena's query aside: the corpus goes under a
    sub-folder of its own beside other objects of the day, the real dbt-executor parses the day
    through the Lambda seam, only the check's own rows are compared, and it leaves nothing."""
    from local.aws import client
    from tests.parity import athena_check

    _, provisioned, _ = local_stack
    names = provisioned.names
    s3 = client("s3", provisioned.endpoint_url)
    functions = client("lambda", provisioned.endpoint_url)
    corpus = parity.load()
    other = f"{corpus.key_prefix()}from-the-producer.jsonl"
    s3.put_object(Bucket=names.raw_bucket, Key=other, Body=b'{"not": "in the corpus"}\n')
    stamp = "20261206170000"
    function_env = functions.get_function_configuration(FunctionName=names.dbt_executor_function)[
        "Environment"
    ]["Variables"]
    read, run_file = run_file_outcomes(function_env, f"parity_{stamp}")
    said: list[str] = []
    problems = athena_check.run_check(
        s3,
        functions,
        read,
        athena_check.Deployment(names.raw_bucket, names.dbt_executor_function),
        corpus,
        stamp,
        say=said.append,
    )
    assert problems == [], "\n".join(problems)
    assert said[-1] == f"read {corpus.lines()} outcomes of {corpus.lines()} corpus lines"
    left = s3.list_objects_v2(Bucket=names.raw_bucket, Prefix=corpus.key_prefix())
    assert [o["Key"] for o in left.get("Contents", [])] == [other]  # raw of others untouched
    assert not run_file.exists()  # the cleanup stage dropped the run's relations


def test_the_athena_check_refuses_to_run_beside_an_earlier_checks_objects(local_stack):
    from local.aws import client
    from tests.parity import athena_check

    _, provisioned, _ = local_stack
    s3 = client("s3", provisioned.endpoint_url)
    corpus = parity.load()
    kept = corpus.key_prefix("parity-20261201000000/") + "sub/part.ndjson"
    s3.put_object(Bucket=provisioned.names.raw_bucket, Key=kept, Body=b"{}\n")
    deployment = athena_check.Deployment(
        provisioned.names.raw_bucket, provisioned.names.dbt_executor_function
    )
    try:
        folder = f"s3://{provisioned.names.raw_bucket}/{corpus.key_prefix()}parity-20261201000000/"
        with pytest.raises(athena_check.CheckError, match=f"--recursive {folder}\\)"):
            athena_check.run_check(s3, None, None, deployment, corpus, "20261206180000")
    finally:
        s3.delete_object(Bucket=provisioned.names.raw_bucket, Key=kept)


def test_the_athena_check_reports_a_failed_parse_readably(local_stack):
    from local.aws import client
    from tests.parity import athena_check

    _, provisioned, _ = local_stack
    functions = client("lambda", provisioned.endpoint_url)
    bad = {"stage": "dbt_staging", "select": "staging", "run_id": "x", "run_key": "NOT A KEY"}
    with pytest.raises(athena_check.CheckError, match=r"run_key must be 1-40 characters"):
        athena_check.invoke(functions, provisioned.names.dbt_executor_function, bad)
