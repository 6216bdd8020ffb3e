"""A day ingested from the fake API (events and users, through 429s) by the ingest function, then
the real DAG run of that day: the pages' names and layout are what the pipeline reads, and every
API record reaches the marts exactly once.

The ingest function is invoked here, before the DAG run: the state machine has no Ingest step yet
(see lambdas/dbt_runtime/handlers/ingest.py)."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import pyarrow.compute as pc
import pytest
from dbt_runtime import ingestion, sources
from dbt_runtime.handlers import ingest

from local.demo import run_dag_for_day
from local.fake_api import FakeApi

pytestmark = [pytest.mark.e2e, pytest.mark.cost(1)]
DAY = date(2026, 11, 24)
TOKEN = "e2e-token"
SECRET = "lakehouse/sources/fake_api"
CONTEXT = SimpleNamespace(
    function_name="ingest",
    memory_limit_in_mb=1024,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ingest",
    aws_request_id="e2e",
    get_remaining_time_in_millis=lambda: 900_000,
)


def _declaration(base_url: str) -> dict:
    document = json.loads(sources.SOURCES_FILE.read_text())
    common = {
        "enabled": True,
        "base_url": base_url,
        "auth": {"type": "bearer", "secret_name": SECRET},
        "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        "data_selector": "data",
        "interval_params": {"start": "since", "end": "until"},
        "page_size": 200,
        "page_size_param": "limit",
        "retry": {"max_attempts": 6, "backoff_factor": 0.05, "max_delay_s": 0.5},
    }
    document["sources"] = {
        "fake_events": {**common, "dataset": "events", "endpoint": "/v1/events",
                        "cursor_field": "event_ts"},
        "fake_users": {**common, "dataset": "users", "endpoint": "/v1/users",
                       "cursor_field": "updated_at"},
    }  # fmt: skip
    return document


@pytest.fixture(scope="module")
def ingested_run(local_stack, tmp_path_factory):
    from local.aws import CREDENTIALS_ENV

    stack, provisioned, lakehouse = local_stack
    path = tmp_path_factory.mktemp("sources") / "sources.json"
    with FakeApi(token=TOKEN, events_per_day=900) as api, pytest.MonkeyPatch.context() as mp:
        path.write_text(json.dumps(_declaration(api.url)))
        for key, value in {
            **CREDENTIALS_ENV,
            "AWS_ENDPOINT_URL": provisioned.endpoint_url,
            "AWS_REGION": "us-east-1",
            "RAW_BUCKET": provisioned.names.raw_bucket,
            "INGEST_SOURCES_FILE": str(path),
        }.items():
            mp.setenv(key, value)
        lakehouse.client("secretsmanager").create_secret(Name=SECRET, SecretString=TOKEN)
        api.faults.rate_limit_every = 3
        interval = {"start": DAY.isoformat(), "end": date.fromordinal(DAY.toordinal() + 1)}
        interval["end"] = interval["end"].isoformat()
        result = ingest.handler({"interval": interval, "run_id": "e2e"}, CONTEXT)
        bounds = ingestion.day_bounds(DAY.isoformat())
        events, users = api.events(*bounds), api.users(*bounds)
    code = run_dag_for_day(stack, DAY, log_name="e2e-ingested.log")
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    return result, code, run, events, users, lakehouse


def test_the_ingest_lands_both_datasets_through_rate_limits(ingested_run):
    result, _, _, events, users, _ = ingested_run
    assert result["status"] == "SUCCEEDED"
    by_source = {stats["source"]: stats for stats in result["days"]}
    assert by_source["fake_events"]["records"] == len(events) == 900
    assert by_source["fake_users"]["records"] == len(users) > 0
    assert result["totals"]["retries"] > 0


def test_every_api_record_reaches_the_marts_exactly_once(ingested_run):
    _, code, run, events, users, lakehouse = ingested_run
    assert code == 0, "airflow dags test failed: see e2e-ingested.log in the stack directory"
    assert run["status"] == "SUCCEEDED"
    facts = lakehouse.table("fct_events")
    ids = facts.filter(pc.equal(facts["landed_on"], DAY.isoformat()))["event_id"].to_pylist()
    assert sorted(ids) == sorted(event["event_id"] for event in events)
    assert len(set(ids)) == len(ids)
    dims = lakehouse.table("dim_users")["user_id"].to_pylist()
    assert set(dims) == {user["user_id"] for user in users}
