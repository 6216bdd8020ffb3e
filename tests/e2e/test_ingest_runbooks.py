"""docs/runbooks.md's API source sections, executed: every `sh` block of "Add a source",
"Backfill a source" and "Recover an interrupted ingest" runs against a local stack whose ingest
function reads two sources (events and users) served by the fake API, without an Airflow
scheduler (the runs run in the foreground, as `scripts/runs` does then).

Scenario: the secret holds a stale token; the operator checks the declaration, puts the token
and runs the first day (it lands and reaches the marts). A backfill of both days skips the
first and meets an API outage on the second at its second page: the run fails at the ingest
stage with one page staged and nothing landed. The operator sees where it stands and redrives:
the ingest resumes at page 2, lands the day, and every page in the raw zone is the bytes a
clean ingestion writes, every API record in the marts once.
"""

from __future__ import annotations

from datetime import date

import pytest
from dbt_runtime import ingestion

from local.fake_api import Faults
from tests.api_sources import fake_api_sources
from tests.runbooks import run_section

# cost: three DAG runs of a small day, run in the foreground
pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]
FIRST, LAST = date(2026, 10, 5), date(2026, 10, 6)
TOKEN = "runbook-token"
EVENTS, PAGE_SIZE = 120, 50  # 3 pages of events a day
SOURCES = ("fake_events", "fake_users")


@pytest.fixture(scope="module")
def scenario(local_stack):
    stack, provisioned, lakehouse = local_stack
    sources = fake_api_sources(PAGE_SIZE, max_attempts=3)
    with stack.api_sources(sources, token=TOKEN, events_per_day=EVENTS) as api:
        # What the operator's token command must replace for anything to be fetched.
        lakehouse.client("secretsmanager").put_secret_value(
            SecretId=provisioned.names.source_secrets_prefix + "fake_events",
            SecretString="stale-token",
        )
        yield {
            "stack": stack, "lakehouse": lakehouse, "api": api,
            "s3": lakehouse.client("s3"), "bucket": provisioned.names.raw_bucket,
            "secrets_prefix": provisioned.names.source_secrets_prefix,
        }  # fmt: skip


def _record(lakehouse, day: date, **match) -> dict:
    records = [
        r
        for r in lakehouse.runs()
        if r["interval_start"] == day.isoformat()
        and all(r.get(key) == value for key, value in match.items())
    ]
    return max(records, key=lambda r: r["started_at"])


def _keys(scenario, prefix: str) -> list[str]:
    listing = scenario["s3"].list_objects_v2(Bucket=scenario["bucket"], Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _api_pages(api, source: str, day: date) -> list[bytes]:
    """The pages a clean ingestion of the day writes: the API's records, PAGE_SIZE a page."""
    bounds = ingestion.day_bounds(day.isoformat())
    records = api.events(*bounds) if source == "fake_events" else api.users(*bounds)
    return [
        ingestion.encode_page(records[i : i + PAGE_SIZE]) for i in range(0, len(records), PAGE_SIZE)
    ]


def test_1_adding_a_source_checks_it_puts_its_token_and_lands_a_day(scenario):
    api, lakehouse = scenario["api"], scenario["lakehouse"]
    said = run_section(
        "Add a source", scenario["stack"].dir, DAY=str(FIRST), SOURCE="fake_events", TOKEN=TOKEN
    )
    assert "fake_events enabled -> events: http://127.0.0.1:" in said, said
    assert "fake_users enabled -> users" in said
    secret = scenario["secrets_prefix"] + "fake_events"  # the environment's (naming rule)
    assert f"put a new value in secret {secret} (source fake_events)" in said
    assert f"fake_events {FIRST}: complete, 3 page(s), {EVENTS} record(s)" in said
    assert f"{FIRST}: DAG run " in said and "SUCCEEDED" in said
    record = _record(lakehouse, FIRST)
    assert record["status"] == "SUCCEEDED", record.get("cause")
    stage = record["stages"]["ingest"]
    assert stage["status"] == "SUCCEEDED"
    days = {d["source"]: d for d in stage["days"]}
    for source in SOURCES:
        pages = _api_pages(api, source, FIRST)
        assert (days[source]["pages"], days[source]["records"]) == (
            len(pages),
            sum(page.count(b"\n") for page in pages),
        )
    assert _keys(scenario, f"events/dt={FIRST}/") == [
        f"events/dt={FIRST}/fake_events-page-{n:05d}.jsonl" for n in (1, 2, 3)
    ]


def test_2_a_backfill_skips_the_done_day_and_an_outage_interrupts_the_other(scenario):
    api, lakehouse = scenario["api"], scenario["lakehouse"]
    # The API goes down from the second page of the next day's events on: retries run out.
    api.faults = Faults(server_error_requests=list(range(api.requests + 2, api.requests + 40)))
    result = run_section(
        "Backfill a source", scenario["stack"].dir, expect_failure=True,
        FIRST_DAY=str(FIRST), LAST_DAY=str(LAST),
    )  # fmt: skip
    assert f"{FIRST}: skipped, its latest run" in result.stdout, result.stdout
    assert f"{LAST}: DAG run " in result.stdout and "FAILED" in result.stdout
    failed = _record(lakehouse, LAST)
    assert (failed["status"], failed["failed_stage"], failed["error"]) == (
        "FAILED", "ingest", "IngestError",
    )  # fmt: skip
    assert f"source 'fake_events', day {LAST}, page 2" in failed["cause"]
    assert "retries exhausted" in failed["cause"]
    assert "dbt_staging" not in failed["stages"]
    # Nothing of the day is in the raw zone; its first page is staged.
    assert _keys(scenario, f"events/dt={LAST}/") == []
    assert _keys(scenario, f"_ingest/fake_events/dt={LAST}/pages/") == [
        f"_ingest/fake_events/dt={LAST}/pages/page-00001.jsonl"
    ]
    scenario["failed"] = failed


def test_3_the_redrive_resumes_the_interrupted_day_at_its_next_page(scenario):
    api, lakehouse = scenario["api"], scenario["lakehouse"]
    failed = scenario["failed"]
    api.faults = Faults()  # the API is back
    said = run_section(
        "Recover an interrupted ingest", scenario["stack"].dir,
        DAY=str(LAST), RUN_ID=failed["run_id"],
    )  # fmt: skip
    before, _, after = said.partition("redriving")
    assert f"run {failed['run_id']}: FAILED" in before, said
    assert "  failed stage ingest" in before and "  error        IngestError" in before
    assert f"fake_events {LAST}: interrupted, 1 page(s), {PAGE_SIZE} record(s)" in before, said
    assert "resumes at page 2 with" in before
    assert f"fake_users {LAST}: not ingested" in before
    assert f"fake_events {LAST}: complete, 3 page(s), {EVENTS} record(s)" in after, said
    assert "  staged " not in after
    redrive = _record(lakehouse, LAST, redrive_of=failed["run_id"])
    assert redrive["status"] == "SUCCEEDED", redrive.get("cause")
    stage = redrive["stages"]["ingest"]
    days = {d["source"]: d for d in stage["days"]}
    assert stage["status"] == "SUCCEEDED"
    assert days["fake_events"]["resumed_at_page"] == 2
    assert days["fake_events"]["requests"] == 2  # pages 2 and 3: page 1 was not asked again
    assert (days["fake_events"]["pages"], days["fake_events"]["records"]) == (3, EVENTS)
    assert days["fake_users"]["resumed_at_page"] is None


def test_4_the_raw_zone_holds_the_apis_pages_and_the_marts_each_record_once(scenario):
    api, lakehouse, s3, bucket = (scenario[k] for k in ("api", "lakehouse", "s3", "bucket"))
    for day in (FIRST, LAST):
        for source, dataset in zip(SOURCES, ("events", "users"), strict=True):
            keys = _keys(scenario, f"{dataset}/dt={day}/{source}-page-")
            landed = [s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]
            assert landed == _api_pages(api, source, day), (source, day)
            assert _keys(scenario, f"_ingest/{source}/dt={day}/pages/") == []
    expected = [
        e["event_id"] for day in (FIRST, LAST) for e in api.events(*ingestion.day_bounds(str(day)))
    ]
    ids = [
        fact["event_id"]
        for fact in lakehouse.table("fct_events").to_pylist()
        if str(fact["landed_on"]) in (str(FIRST), str(LAST))
    ]
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids) == 2 * EVENTS
    users = {
        u["user_id"] for day in (FIRST, LAST) for u in api.users(*ingestion.day_bounds(str(day)))
    }
    assert users <= set(lakehouse.table("dim_users")["user_id"].to_pylist())
