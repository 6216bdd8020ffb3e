"""An ingest that outlasts its invocation, through the real state machine: with a slow API and a
function timeout a few pages above the ingest's reserve, each invocation stops between pages
and answers INCOMPLETE, the state machine invokes it again until the day is done, and the day's
run then transforms it. The landed pages are what one uninterrupted ingestion writes, byte for
byte, and every API record reaches fct_events exactly once."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.compute as pc
import pytest
from dbt_runtime import ingestion
from dbt_runtime.handlers.ingest import RESERVE_S

from local.demo import run_dag_for_day
from tests.api_sources import fake_api_sources

pytestmark = [pytest.mark.e2e, pytest.mark.cost(1)]
DAY = date(2026, 11, 25)
TOKEN = "e2e-token"
EVENTS = 900
PAGE_SIZE = 100
# Each answer takes ANSWER_DELAY_S, and an invocation stops once less than RESERVE_S is left:
# a warm invocation fetches about (TIMEOUT_S - RESERVE_S) / ANSWER_DELAY_S pages, far fewer
# than the day's.
ANSWER_DELAY_S = 1.5
TIMEOUT_S = int(RESERVE_S) + 8


@pytest.fixture(scope="module")
def slow_run(local_stack):
    stack, provisioned, lakehouse = local_stack
    functions = lakehouse.client("lambda")
    function = provisioned.names.ingest_function
    timeout = functions.get_function_configuration(FunctionName=function)["Timeout"]
    sources = fake_api_sources(page_size=PAGE_SIZE, max_attempts=3)
    with stack.api_sources(sources, token=TOKEN, events_per_day=EVENTS) as api:
        functions.update_function_configuration(FunctionName=function, Timeout=TIMEOUT_S)
        try:
            api.faults.answer_delay_s = ANSWER_DELAY_S
            code = run_dag_for_day(stack, DAY, log_name="e2e-ingest-incomplete.log")
        finally:
            functions.update_function_configuration(FunctionName=function, Timeout=timeout)
        events = api.events(*ingestion.day_bounds(DAY.isoformat()))
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    return code, run, events, lakehouse, provisioned


def test_the_state_machine_invokes_the_ingest_again_until_the_day_is_done(slow_run):
    code, run, _, lakehouse, provisioned = slow_run
    assert code == 0, "airflow dags test failed: see e2e-ingest-incomplete.log in the stack dir"
    assert run["status"] == "SUCCEEDED", run.get("error")
    invocations = [
        i
        for i in lakehouse.lambda_invocations(run["execution_arn"])
        if i["function"] == provisioned.names.ingest_function
    ]
    pages = -(-EVENTS // PAGE_SIZE)
    per_invocation = (TIMEOUT_S - RESERVE_S) / ANSWER_DELAY_S
    assert len(invocations) >= pages / per_invocation, invocations
    assert all(i["outcome"] == "TaskSucceeded" for i in invocations)
    stage = run["stages"]["ingest"]  # the last invocation's answer
    assert stage["status"] == "SUCCEEDED"
    events_day = next(d for d in stage["days"] if d["source"] == "fake_events")
    assert events_day["invocations"] >= 2 and events_day["pages"] == pages
    assert events_day["records"] == EVENTS


def test_the_landed_pages_are_an_uninterrupted_ingestion_s_byte_for_byte(slow_run):
    _, _, events, lakehouse, provisioned = slow_run
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"events/dt={DAY}/")
    landed = {
        o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listing.get("Contents", [])
    }
    expected = {
        f"events/dt={DAY}/fake_events-page-{n + 1:05d}.jsonl": ingestion.encode_page(
            events[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
        )
        for n in range(-(-len(events) // PAGE_SIZE))
    }
    assert landed == expected
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=f"_ingest/fake_events/dt={DAY}/")
    keys = [o["Key"] for o in staged.get("Contents", [])]
    assert keys == [f"_ingest/fake_events/dt={DAY}/state.json"], "nothing left staged"
    state = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert state["status"] == "complete" and state["totals"]["invocations"] >= 2


def test_every_api_record_reaches_the_marts_exactly_once(slow_run):
    _, run, events, lakehouse, _ = slow_run
    facts = lakehouse.table("fct_events")
    ids = facts.filter(pc.equal(facts["landed_on"], DAY.isoformat()))["event_id"].to_pylist()
    assert sorted(ids) == sorted(event["event_id"] for event in events)
    assert len(set(ids)) == len(ids)
