"""A day's DAG run with two API sources enabled (events and users, from the fake API through
429s): the state machine's Ingest stage lands the day, then the transform reads it. The run record
holds what was ingested, the pages' names and layout are what the pipeline reads, and every API
record reaches the marts exactly once. A day whose token the API refuses fails at the ingest stage,
with the cause in the record and one alert."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.compute as pc
import pytest
from dbt_runtime import ingestion

from local.demo import run_dag_for_day
from local.fake_api import Faults
from tests.api_sources import fake_api_sources

pytestmark = [pytest.mark.e2e, pytest.mark.cost(1)]
DAY = date(2026, 11, 24)
REFUSED_DAY = date(2026, 11, 26)
TOKEN = "e2e-token"
EVENTS = 900


@pytest.fixture(scope="module")
def ingested_run(local_stack):
    stack, provisioned, lakehouse = local_stack
    lakehouse.alerts()  # start from an empty inbox
    sources = fake_api_sources(page_size=200, max_attempts=6)
    with stack.api_sources(sources, token=TOKEN, events_per_day=EVENTS) as api:
        api.faults.rate_limit_every = 3
        code = run_dag_for_day(stack, DAY, log_name="e2e-ingested.log")
        bounds = ingestion.day_bounds(DAY.isoformat())
        events, users = api.events(*bounds), api.users(*bounds)
        statuses = list(api.statuses)
        api.faults = Faults(expired_token=True)
        refused_code = run_dag_for_day(stack, REFUSED_DAY, log_name="e2e-ingest-refused.log")
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    refused = next(r for r in lakehouse.runs() if r["interval_start"] == REFUSED_DAY.isoformat())
    refused["exit_code"], refused["alerts"] = refused_code, lakehouse.alerts()
    return code, run, events, users, statuses, lakehouse, provisioned, refused


def test_the_run_ingests_both_datasets_through_rate_limits_and_records_it(ingested_run):
    code, run, events, users, statuses, *_ = ingested_run
    assert code == 0, "airflow dags test failed: see e2e-ingested.log in the stack directory"
    assert 429 in statuses  # the run went through the API's rate limits
    stage = run["stages"]["ingest"]
    assert stage["status"] == "SUCCEEDED"
    by_source = {stats["source"]: stats for stats in stage["days"]}
    assert by_source["fake_events"]["records"] == len(events) == EVENTS
    assert by_source["fake_users"]["records"] == len(users) > 0
    assert stage["totals"]["retries"] > 0
    assert stage["totals"]["pages"] >= EVENTS // 200
    assert stage["started_at"] <= stage["ended_at"]


def test_the_pages_land_where_the_pipeline_reads_them(ingested_run):
    *_, lakehouse, provisioned, _ = ingested_run
    s3 = lakehouse.client("s3")
    listing = s3.list_objects_v2(Bucket=provisioned.names.raw_bucket, Prefix="events/")
    keys = [o["Key"] for o in listing.get("Contents", [])]
    assert keys and all(k.startswith(f"events/dt={DAY}/fake_events-page-") for k in keys)


def test_every_api_record_reaches_the_marts_exactly_once(ingested_run):
    _, run, events, users, _, lakehouse, *_ = ingested_run
    assert run["status"] == "SUCCEEDED"
    facts = lakehouse.table("fct_events")
    ids = facts.filter(pc.equal(facts["landed_on"], DAY.isoformat()))["event_id"].to_pylist()
    assert sorted(ids) == sorted(event["event_id"] for event in events)
    assert len(set(ids)) == len(ids)
    dims = lakehouse.table("dim_users")["user_id"].to_pylist()
    assert set(dims) == {user["user_id"] for user in users}


def test_a_refused_token_fails_the_run_at_the_ingest_stage_with_one_alert(ingested_run):
    refused = ingested_run[-1]
    assert refused["exit_code"] != 0, "the DAG run should have failed"
    assert (refused["status"], refused["failed_stage"]) == ("FAILED", "ingest")
    assert refused["error"] == "AuthError"
    assert "401" in refused["cause"] and "fake_events" in refused["cause"]
    assert "dbt_staging" not in refused["stages"]  # nothing was transformed
    assert len(refused["alerts"]) == 1
    assert refused["alerts"][0]["Subject"].endswith("stage ingest")
    assert "Error: AuthError" in refused["alerts"][0]["Message"].splitlines()


def test_the_ingest_function_skips_again_once_the_sources_are_disabled(ingested_run, local_stack):
    stack, provisioned, lakehouse = local_stack
    answer = lakehouse.client("lambda").invoke(
        FunctionName=provisioned.names.ingest_function,
        Payload=json.dumps({"interval": {"start": "2026-11-25", "end": "2026-11-26"}}),
    )
    assert json.loads(answer["Payload"].read())["status"] == "SKIPPED"
