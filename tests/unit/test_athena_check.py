"""athena_check's Athena side, offline: the query it sends and how it reads Athena's answer
(botocore's Stubber checks each request against the Athena API model)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from tests.parity import athena_check
from tests.parity import corpus as parity

pytestmark = pytest.mark.unit
RELATION = '"awsdatacatalog"."lakehouse_sandbox_curated"."stg_raw_event_lines__parity_1"'
PATH = "/events/dt=2026-06-10/parity-1/"


def cell(value):
    return {} if value is None else {"VarCharValue": value}


def results_page(rows):
    return {"ResultSet": {"Rows": [{"Data": [cell(v) for v in row]} for row in rows]}}


@pytest.fixture
def athena():
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # fmt: skip
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_reads_its_own_rows_in_the_functions_workgroup(athena, monkeypatch):
    client, stub = athena
    monkeypatch.setattr(athena_check.time, "sleep", lambda _: None)
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": athena_check.own_rows_sql(RELATION, PATH),
            "WorkGroup": "lakehouse-sandbox",
            "ResultConfiguration": {"OutputLocation": "s3://results/"},
        },
    )
    stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}})
    stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}})
    header = ["source_file", "disposition", "reason", "event_id", "event_ts", "revenue"]
    stub.add_response(
        "get_query_results",
        results_page(
            [
                header,
                [
                    "s3://raw" + PATH + "lf.jsonl",
                    "accepted",
                    None,
                    "cx-1",
                    "2026-06-10 08:00:00.000000",
                    None,
                ],
            ]
        ),  # fmt: skip
    )
    rows = athena_check.AthenaOutcomes(client, "lakehouse-sandbox", "s3://results/")(RELATION, PATH)
    assert rows == [
        {
            "source_file": "s3://raw/events/dt=2026-06-10/parity-1/lf.jsonl",
            "disposition": "accepted",
            "reason": None,
            "event_id": "cx-1",
            "event_ts": "2026-06-10 08:00:00.000000",
            "revenue": None,
        }
    ]
    sql = athena_check.own_rows_sql(RELATION, PATH)
    assert sql.rstrip().endswith(f"where source_file like '%{PATH}%'")
    assert f"from {RELATION}" in sql


def test_a_failed_query_is_a_check_error_with_athenas_reason(athena):
    client, stub = athena
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND"}}},
    )
    reader = athena_check.AthenaOutcomes(client, "primary", None)
    with pytest.raises(athena_check.CheckError, match="q-2 FAILED: TABLE_NOT_FOUND"):
        reader(RELATION, PATH)


def test_athenas_text_values_compare_by_value_with_the_corpus():
    """Athena prints times with six digits and amounts with their scale; the corpus states them
    as ISO text and decimals: equal values are a match, a different microsecond is not."""
    corpus = parity.load()
    case = next(c for c in corpus.cases if c.name == "microseconds kept")
    expected = case.expect[0]
    row = {
        "source_file": "s3://raw/" + corpus.key(case),
        "disposition": "accepted",
        "reason": None,
        "event_id": expected.get("event_id"),
        "event_ts": expected["event_ts"].replace("T", " "),
        "revenue": None,
    }
    only = parity.Corpus(corpus.landing_day, [case])
    assert parity.mismatches(only, [row]) == []
    shifted = {
        **row,
        "event_ts": row["event_ts"][:-1] + ("0" if row["event_ts"][-1] != "0" else "1"),
    }
    assert len(parity.mismatches(only, [shifted])) == 1


def test_only_paths_the_check_writes_reach_the_sql():
    with pytest.raises(athena_check.CheckError):
        athena_check.own_rows_sql(RELATION, "/x/' or 1=1 --")
