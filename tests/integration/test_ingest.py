"""The ingest function against the local emulator's S3 and Secrets Manager and the project's fake
API (local/fake_api.py): three days ingested through 429s, a 5xx burst, a malformed page and a
killed invocation give the same raw objects, byte for byte, as a clean ingestion; auth and
schema failures are clear and land nothing."""

from __future__ import annotations

import json
import os
import threading

import pytest
from dbt_runtime import ingestion, sources
from dbt_runtime.handlers import ingest

from local.fake_api import FakeApi
from tests.lambda_fixtures.handlers import ingest_context

pytestmark = pytest.mark.integration

SOURCE = "example_events_api"
TOKEN = "fake-api-token"
DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
INTERVAL = {"start": DAYS[0], "end": "2026-11-23"}
EVENTS_PER_DAY = 250  # 3 pages of 100 a day
PIPELINE = "lakehouse_raw_to_curated"
CONTEXT = ingest_context("integration")


class Killed(BaseException):
    """Stands for the runtime killing the invocation: nothing of ours catches it."""


@pytest.fixture(scope="module")
def api():
    with FakeApi(token=TOKEN, events_per_day=EVENTS_PER_DAY) as fake:
        yield fake


@pytest.fixture
def env(local_stack, api, tmp_path, monkeypatch):
    """The ingest function's environment on the local stack, with the example source enabled
    against the fake API and its token in Secrets Manager; the raw bucket emptied of what an
    earlier test ingested; yields (s3 client, raw bucket, the source)."""
    from local.aws import CREDENTIALS_ENV, client

    _, provisioned, _ = local_stack
    document = json.loads(sources.SOURCES_FILE.read_text())
    document["sources"][SOURCE].update(
        enabled=True,
        base_url=api.url,
        page_size=100,
        # Short waits keep the test quick; a 429's Retry-After (1 s) still decides its wait.
        retry={"max_attempts": 6, "backoff_factor": 0.05, "max_delay_s": 2},
    )
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(document))
    bucket = provisioned.names.raw_bucket
    for key, value in {
        **CREDENTIALS_ENV,
        "AWS_ENDPOINT_URL": provisioned.endpoint_url,
        "AWS_REGION": "us-east-1",
        "RAW_BUCKET": bucket,
        "RUNS_TABLE": provisioned.names.runs_table,
        "SOURCE_SECRETS_PREFIX": provisioned.names.source_secrets_prefix,
        "INGEST_SOURCES_FILE": str(path),
    }.items():
        monkeypatch.setenv(key, value)
    secrets = client("secretsmanager", provisioned.endpoint_url)
    try:
        secrets.create_secret(
            Name=provisioned.names.source_secrets_prefix + SOURCE,
            SecretString=json.dumps({"token": TOKEN}),
        )
    except secrets.exceptions.ResourceExistsException:
        pass
    s3 = client("s3", provisioned.endpoint_url)
    for prefix in ("events/", "_ingest/"):
        for key in _keys(s3, bucket, prefix):
            s3.delete_object(Bucket=bucket, Key=key)
    api.faults = type(api.faults)()
    yield s3, bucket, sources.load(path)[SOURCE]
    api.faults = type(api.faults)()


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _landed(s3, bucket: str) -> dict[str, bytes]:
    return {
        key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for key in _keys(s3, bucket, "events/")
    }


def _clean_ingestion(s3, bucket: str) -> dict[str, bytes]:
    result = ingest.handler(
        {"interval": INTERVAL, "run_id": "clean", "pipeline": PIPELINE}, CONTEXT
    )
    assert result["status"] == "SUCCEEDED", result
    assert result["totals"]["retries"] == 0
    landed = _landed(s3, bucket)
    for key in _keys(s3, bucket, "events/") + _keys(s3, bucket, "_ingest/"):
        s3.delete_object(Bucket=bucket, Key=key)
    return landed


def _ingest_day(source, day, s3, bucket, **kwargs) -> dict:
    return ingestion.ingest_day(
        source,
        day,
        s3=s3,
        location=ingestion.Location(bucket, "_ingest"),
        token=TOKEN,
        **kwargs,
    )


def test_faults_and_a_killed_invocation_give_the_clean_ingestion_byte_for_byte(env, api):
    s3, bucket, source = env
    clean = _clean_ingestion(s3, bucket)
    # Every API record of the three days, once: no gap, no duplicate.
    assert sorted(clean) == [
        f"events/dt={day}/{SOURCE}-page-{page:05d}.jsonl" for day in DAYS for page in (1, 2, 3)
    ]
    for day in DAYS:
        lines = [
            json.loads(line)
            for key, body in clean.items()
            if f"dt={day}/" in key
            for line in body.splitlines()
        ]
        expected = api.events(*ingestion.day_bounds(day))
        assert lines == expected and len(expected) == EVENTS_PER_DAY

    # Day 1: a burst of three 503s, then two 429s (Retry-After: 1 s).
    seen, n = len(api.statuses), api.requests
    api.faults.server_error_requests = [n + 2, n + 3, n + 4]
    api.faults.rate_limited_requests = [n + 5, n + 7]
    first = ingest.handler(
        {"interval": {"start": DAYS[0], "end": DAYS[1]}, "pipeline": PIPELINE}, CONTEXT
    )
    assert first["status"] == "SUCCEEDED"
    assert api.statuses[seen:] == [200, 503, 503, 503, 429, 200, 429, 200]
    assert (first["days"][0]["requests"], first["days"][0]["retries"]) == (8, 5)
    # The 429s' Retry-After was waited out, not the (0.05 s) backoff.
    assert first["days"][0]["duration_s"] >= 2.0

    # From here on, a 429 every 4th request.
    api.faults.rate_limit_every = 4

    # Day 2: killed after its second page; nothing of the day is in the raw zone yet.
    def kill_after_second(page: int) -> None:
        if page == 2:
            raise Killed

    with pytest.raises(Killed):
        _ingest_day(source, DAYS[1], s3, bucket, on_page=kill_after_second)
    assert not _keys(s3, bucket, f"events/dt={DAYS[1]}/")
    assert len(_keys(s3, bucket, f"_ingest/{SOURCE}/dt={DAYS[1]}/pages/")) == 2

    # Day 3's second page arrives cut short once.
    api.faults.malformed_pages = [2]
    with pytest.raises(ingestion.IngestError, match="page 2: the response is not valid JSON"):
        _ingest_day(source, DAYS[2], s3, bucket)
    assert not _keys(s3, bucket, f"events/dt={DAYS[2]}/")

    # The whole interval again: day 1 is left as it is, days 2 and 3 resume at page 3 and 2.
    requests_before = api.requests
    resumed = ingest.handler(
        {"interval": INTERVAL, "run_id": "resumed", "pipeline": PIPELINE}, CONTEXT
    )
    assert resumed["status"] == "SUCCEEDED"
    by_day = {stats["day"]: stats for stats in resumed["days"]}
    assert by_day[DAYS[0]]["skipped"] and by_day[DAYS[0]]["requests"] == 0
    assert by_day[DAYS[1]]["resumed_at_page"] == 3 and by_day[DAYS[1]]["invocations"] == 2
    assert by_day[DAYS[2]]["resumed_at_page"] == 2
    successful = api.statuses[requests_before:].count(200)
    assert successful == 1 + 2, "only the pages not staged before were fetched again"
    assert {stats["pages"] for stats in by_day.values()} == {3}
    assert resumed["totals"]["records"] == 3 * EVENTS_PER_DAY

    assert _landed(s3, bucket) == clean
    # The staged pages are gone once landed; the state says the day is complete.
    assert _keys(s3, bucket, "_ingest/") == [
        f"_ingest/{SOURCE}/dt={day}/state.json" for day in DAYS
    ]

    # A rerun of the interval changes nothing and asks the API nothing.
    requests_before = api.requests
    again = ingest.handler({"interval": INTERVAL, "run_id": "again", "pipeline": PIPELINE}, CONTEXT)
    assert [stats["skipped"] for stats in again["days"]] == [True] * 3
    assert api.requests == requests_before
    assert _landed(s3, bucket) == clean


def test_an_expired_token_fails_at_once_with_the_secret_named(env, api):
    s3, bucket, _ = env
    api.faults.expired_token = True
    requests_before = api.requests
    with pytest.raises(ingestion.AuthError) as failure:
        ingest.handler({"interval": INTERVAL, "run_id": "auth", "pipeline": PIPELINE}, CONTEXT)
    message = str(failure.value)
    secret = f"secret '{os.environ['SOURCE_SECRETS_PREFIX']}{SOURCE}'"  # the environment's
    assert "HTTP 401" in message and secret in message and f"day {DAYS[0]}, page 1" in message
    assert api.requests == requests_before + 1, "a refused credential is not retried"
    assert not _keys(s3, bucket, "events/")


def test_a_record_breaking_the_schema_fails_the_day_and_lands_nothing(env, api):
    s3, bucket, source = env
    api.faults.schema_violation_pages = [2]
    for _ in range(2):  # the same failure again: nothing is skipped past it
        with pytest.raises(ingestion.SourceSchemaError) as failure:
            _ingest_day(source, DAYS[0], s3, bucket)
        assert "page 2, record 1: field 'event_ts' is a JSON number, declared timestamp" in str(
            failure.value
        )
    assert not _keys(s3, bucket, "events/")
    assert _keys(s3, bucket, f"_ingest/{SOURCE}/dt={DAYS[0]}/pages/") == [
        f"_ingest/{SOURCE}/dt={DAYS[0]}/pages/page-00001.jsonl"
    ]


def test_a_5xx_outlasting_the_retries_fails_clearly(env, api):
    s3, bucket, source = env
    api.faults.server_error_requests = list(range(api.requests + 1, api.requests + 20))
    with pytest.raises(ingestion.IngestError, match=r"page 1: HTTP 503 .*\(retries exhausted\)"):
        _ingest_day(source, DAYS[0], s3, bucket)
    assert not _keys(s3, bucket, "events/")


def test_landed_objects_are_never_overwritten_with_other_bytes(env, api):
    s3, bucket, source = env
    key = f"events/dt={DAYS[0]}/{SOURCE}-page-00002.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"event_id":"other"}\n')
    with pytest.raises(ingestion.RawConflict, match="already landed with other bytes"):
        _ingest_day(source, DAYS[0], s3, bucket)
    assert _keys(s3, bucket, "events/") == [key], "a conflict lands no page of the day"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"event_id":"other"}\n'
    stray = f"events/dt={DAYS[0]}/{SOURCE}-page-00009.jsonl"
    s3.put_object(Bucket=bucket, Key=stray, Body=b"")
    with pytest.raises(ingestion.RawConflict, match="does not write"):
        _ingest_day(source, DAYS[0], s3, bucket)


def test_an_api_repeating_its_cursor_is_not_paged_forever(env, api):
    s3, bucket, source = env
    api.faults.stuck_cursor_pages = [2]
    requests_before = api.requests
    with pytest.raises(ingestion.IngestError, match="page 2: the API answered with the cursor"):
        _ingest_day(source, DAYS[0], s3, bucket)
    assert api.requests == requests_before + 2
    assert not _keys(s3, bucket, "events/")


def test_an_invocation_near_its_timeout_stops_between_pages_and_the_next_resumes(env, api):
    s3, bucket, source = env
    clock = iter([300.0, 300.0, 30.0])  # the third check finds less than the reserve left
    first = _ingest_day(source, DAYS[0], s3, bucket, time_left_s=lambda: next(clock))
    assert (first["status"], first["pages"]) == ("INCOMPLETE", 2)
    assert not _keys(s3, bucket, "events/")
    second = _ingest_day(source, DAYS[0], s3, bucket)
    assert (second["status"], second["pages"], second["resumed_at_page"]) == ("COMPLETE", 3, 3)
    assert second["requests"] == 1
    assert _keys(s3, bucket, "events/") == [
        f"events/dt={DAYS[0]}/{SOURCE}-page-{page:05d}.jsonl" for page in (1, 2, 3)
    ]


def test_two_invocations_racing_for_a_source_day_ingest_it_once(env, api, monkeypatch):
    """A rerun racing a redrive: while one invocation ingests a day (holding its lease in the run
    ledger), another of a different execution fails at once with IngestBusy, before it fetches
    or writes anything; once the first is done, the other finds the day complete."""
    s3, bucket, _ = env
    ingesting, go_on = threading.Event(), threading.Event()
    real = ingestion.ingest_day

    def first_waits_inside(*args, **kwargs):
        if threading.current_thread().name == "first":
            ingesting.set()
            assert go_on.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingestion, "ingest_day", first_waits_inside)
    day = {"start": DAYS[0], "end": DAYS[1]}
    results: dict = {}

    def invoke(name: str) -> None:
        event = {"interval": day, "run_id": name, "pipeline": PIPELINE, "execution_id": name}
        try:
            results[name] = ingest.handler(event, CONTEXT)
        except Exception as exc:  # noqa: BLE001 - the test reads what each invocation raised
            results[name] = exc

    first = threading.Thread(target=invoke, args=("first",), name="first")
    first.start()
    try:
        assert ingesting.wait(60)
        requests_before = api.requests
        invoke("second")
        busy = results["second"]
        assert type(busy).__name__ == "IngestBusy", busy
        assert f"source '{SOURCE}', day {DAYS[0]}: run first [first] has been ingesting" in str(
            busy
        )
        assert api.requests == requests_before, "the busy invocation asked the API nothing"
        assert not _keys(s3, bucket, "_ingest/"), "nor wrote any state"
    finally:
        go_on.set()
        first.join(60)
    assert results["first"]["status"] == "SUCCEEDED", results["first"]
    # Released: the second, retried, finds the day complete and fetches nothing.
    requests_before = api.requests
    invoke("second")
    assert results["second"]["status"] == "SUCCEEDED", results["second"]
    assert results["second"]["days"][0]["skipped"]
    assert api.requests == requests_before
