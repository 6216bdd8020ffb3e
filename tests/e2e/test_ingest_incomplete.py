"""An ingest of three days through everything an API and a runtime throw at it, through the
real state machine: a slow API (each invocation stops between pages when its reserve is reached
and answers INCOMPLETE; the state machine invokes it again), 429s with Retry-After, a burst of
503s, and a request that outlasts its invocation so the runtime kills it mid-page
(Sandbox.Timedout; the state machine invokes it again and it resumes at the page it was
fetching). The run then transforms the days. The landed pages are what one clean ingestion
writes, byte for byte, and every API record reaches fct_events exactly once."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pyarrow.compute as pc
import pytest
from dbt_runtime import ingestion
from dbt_runtime.handlers.ingest import RESERVE_SHARE

from local.demo import run_dag_for_day
from tests.api_sources import fake_api_sources

pytestmark = [pytest.mark.e2e, pytest.mark.cost(1)]
# One run of three days (the run's interval params), as a backfill chunk is.
DAYS = [date(2026, 11, 25) + timedelta(days=n) for n in range(3)]
INTERVAL = {"interval_start": DAYS[0].isoformat(),
            "interval_end": (DAYS[-1] + timedelta(days=1)).isoformat()}  # fmt: skip
TOKEN = "e2e-token"
EVENTS = 500  # a day's
PAGE_SIZE = 100
# Each answer takes ANSWER_DELAY_S, and an invocation stops once less than its reserve (a share
# of TIMEOUT_S) is left: it fetches about TIMEOUT_S * (1 - RESERVE_SHARE) / ANSWER_DELAY_S
# requests, far fewer than the interval's.
ANSWER_DELAY_S = 1.0
TIMEOUT_S = 14
# The third request outlasts the first invocation: the runtime kills it while it waits.
HUNG_REQUEST = 3
# Every fifth request is rate limited (429, Retry-After), and two in a row answer 503: each is
# retried within the source's three attempts and answered at once, so the slowest page (about
# 1.5 s) still fits in the reserve (2.1 s): only the hung request is killed.
RATE_LIMIT_EVERY, SERVER_ERRORS = 5, [7, 8]


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
            api.faults.hung_requests, api.faults.hang_s = [HUNG_REQUEST], TIMEOUT_S + 5
            api.faults.rate_limit_every = RATE_LIMIT_EVERY
            api.faults.server_error_requests = SERVER_ERRORS
            code = run_dag_for_day(
                stack, DAYS[0], log_name="e2e-ingest-incomplete.log", conf=INTERVAL
            )
        finally:
            functions.update_function_configuration(FunctionName=function, Timeout=timeout)
        events = {day: api.events(*ingestion.day_bounds(day.isoformat())) for day in DAYS}
        statuses = list(api.statuses)
    run = next(r for r in lakehouse.runs() if r["interval_start"] == INTERVAL["interval_start"])
    return code, run, events, lakehouse, provisioned, statuses


def test_the_state_machine_invokes_the_ingest_again_until_the_day_is_done(slow_run):
    code, run, _, lakehouse, provisioned, statuses = slow_run
    assert code == 0, "airflow dags test failed: see e2e-ingest-incomplete.log in the stack dir"
    assert run["status"] == "SUCCEEDED", run.get("error")
    assert run["interval_end"] == INTERVAL["interval_end"]
    assert {429, 503} <= set(statuses), statuses  # the faults were met
    invocations = [
        i["outcome"]
        for i in lakehouse.lambda_invocations(run["execution_arn"])
        if i["function"] == provisioned.names.ingest_function
    ]
    # the first was killed mid-page, then each stopped at its reserve until the day was done
    assert invocations[0] == "TaskFailed", invocations
    assert len(invocations) >= 3 and set(invocations[1:]) == {"TaskSucceeded"}, invocations
    pages = -(-EVENTS // PAGE_SIZE)
    per_invocation = TIMEOUT_S * (1 - RESERVE_SHARE) / ANSWER_DELAY_S
    assert len(invocations) - 1 >= len(DAYS) * pages / per_invocation, invocations
    stage = run["stages"]["ingest"]  # the last invocation's answer
    assert stage["status"] == "SUCCEEDED"
    events_days = {d["day"]: d for d in stage["days"] if d["source"] == "fake_events"}
    assert sorted(events_days) == [day.isoformat() for day in DAYS]
    for day in events_days.values():
        assert (day["pages"], day["records"]) == (pages, EVENTS), day
    # the first day's was killed mid-page and resumed by the next invocation
    assert events_days[DAYS[0].isoformat()]["invocations"] >= 2


def test_the_landed_pages_are_an_uninterrupted_ingestion_s_byte_for_byte(slow_run):
    _, _, events, lakehouse, provisioned, _ = slow_run
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    states = {}
    for day in DAYS:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"events/dt={day}/")
        landed = {
            o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listing.get("Contents", [])
        }
        expected = {
            f"events/dt={day}/fake_events-page-{n + 1:05d}.jsonl": ingestion.encode_page(
                events[day][n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
            )
            for n in range(-(-len(events[day]) // PAGE_SIZE))
        }
        assert landed == expected, day
        staged = s3.list_objects_v2(Bucket=bucket, Prefix=f"_ingest/fake_events/dt={day}/")
        keys = [o["Key"] for o in staged.get("Contents", [])]
        assert keys == [f"_ingest/fake_events/dt={day}/state.json"], "nothing left staged"
        states[day] = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
        assert states[day]["status"] == "complete", day
    assert states[DAYS[0]]["totals"]["invocations"] >= 2


def test_every_api_record_reaches_the_marts_exactly_once(slow_run):
    _, run, events, lakehouse, _, _ = slow_run
    facts = lakehouse.table("fct_events")
    for day in DAYS:
        ids = facts.filter(pc.equal(facts["landed_on"], day.isoformat()))["event_id"].to_pylist()
        assert sorted(ids) == sorted(event["event_id"] for event in events[day]), day
        assert len(set(ids)) == len(ids), day
