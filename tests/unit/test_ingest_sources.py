"""The sources declaration (contracts/sources.json) and the landing-schema check of the ingest
function, without AWS or HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from dbt_runtime import ingestion, sources
from dbt_runtime.handlers import ingest

from tests.lambda_fixtures.handlers import ingest_context

pytestmark = pytest.mark.unit

DAY_START = datetime(2026, 11, 20, tzinfo=UTC)
DAY_END = datetime(2026, 11, 21, tzinfo=UTC)
CONTEXT = ingest_context("unit")


def _document(**overrides) -> dict:
    document = json.loads(sources.SOURCES_FILE.read_text())
    spec = document["sources"]["example_events_api"]
    spec.update(enabled=True, **overrides)
    return document


def _source(tmp_path, **overrides) -> sources.Source:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(_document(**overrides)))
    return sources.load(path)["example_events_api"]


def _event(**changes) -> dict:
    event = {
        "event_id": "e1",
        "user_id": "u1",
        "event_type": "page_view",
        "event_ts": "2026-11-20T10:00:00.123456Z",
        "properties": {"page": "/"},
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not ...}


def test_the_default_declaration_enables_no_source_and_the_function_skips(monkeypatch):
    monkeypatch.delenv("INGEST_SOURCES_FILE", raising=False)
    declared = sources.load()
    assert declared, "the example source documents the shape"
    assert sources.enabled() == {}
    event = {"interval": {"start": "2026-11-20", "end": "2026-11-21"}, "run_id": "r"}
    # RAW_BUCKET unset: a skipped run must not need the ingest environment at all.
    monkeypatch.delenv("RAW_BUCKET", raising=False)
    assert ingest.handler(event, CONTEXT)["status"] == "SKIPPED"


def test_a_record_matching_the_declaration_passes(tmp_path):
    source = _source(tmp_path)
    source.check_record(_event(revenue=12.5), DAY_START, DAY_END)
    source.check_record(_event(event_ts="2026-11-20 23:59:59"), DAY_START, DAY_END)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_event(event_id=...), "required field 'event_id' is missing"),
        (_event(user_id=None), "required field 'user_id' is missing or null"),
        (_event(event_ts=1764547200), "field 'event_ts' is a JSON number, declared timestamp"),
        (_event(event_ts="20/11/2026"), "is not an ISO-8601 time (YYYY-MM-DD[THH:MM"),
        (_event(event_ts="2026-11-20T24:00:00Z"), "is not an ISO-8601 time"),
        (_event(revenue=True), "field 'revenue' is a JSON boolean, declared decimal(12, 2)"),
        (_event(revenue="12.50"), "field 'revenue' is a JSON string, declared decimal(12, 2)"),
        (_event(properties=["a"]), "field 'properties' is a JSON array, declared object"),
        (_event(event_ts="2026-11-21T00:00:00Z"), "lies outside the day asked for"),
        (_event(event_ts="2026-11-20T01:00:00+02:00"), "lies outside the day asked for"),
        (["not", "an", "object"], "a record is a JSON list, not an object"),
    ],
)
def test_a_record_breaking_the_declaration_is_refused_with_its_reason(tmp_path, record, message):
    source = _source(tmp_path)
    with pytest.raises(sources.SchemaViolation, match=re.escape(message)):
        source.check_record(record, DAY_START, DAY_END)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"paginator": {"type": "offset"}}, "paginator.type must be one of"),
        ({"cursor_field": "received_at"}, "is not a declared field of events"),
        ({"dataset": "orders"}, "dataset must be one of"),
        (
            {"auth": {"type": "bearer", "secret_name": "shared/token"}},
            "auth.secret_name is not declared per source",
        ),
        ({"base_url": "ftp://example.com"}, "base_url must be an http"),
        ({"retry": {"max_attempts": 0}}, "at least 1"),
    ],
)
def test_a_declaration_the_function_cannot_run_is_refused(tmp_path, overrides, message):
    with pytest.raises(sources.SourceConfigError, match=message):
        _source(tmp_path, **overrides)


def test_the_landing_schema_dbt_reads_is_the_declaration_checked(monkeypatch, tmp_path):
    """dbt staging gets the file's `datasets` as they are (the var raw_datasets), once checked."""
    monkeypatch.delenv("INGEST_SOURCES_FILE", raising=False)
    declared = json.loads(sources.SOURCES_FILE.read_text())["datasets"]
    assert sources.raw_datasets() == declared
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"datasets": {"events": declared["events"]}}))
    with pytest.raises(sources.SourceConfigError, match=r"datasets \['users'\] are not declared"):
        sources.raw_datasets(path)


def test_a_field_named_like_a_column_of_the_parse_is_refused(tmp_path):
    for name in ("line", "detail", "revenue_value"):
        document = _document()
        document["datasets"]["events"]["fields"][name] = {"type": "string"}
        path = tmp_path / "sources.json"
        path.write_text(json.dumps(document))
        with pytest.raises(sources.SourceConfigError, match="one of staging's own columns"):
            sources.raw_datasets(path)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"type": "integer"}, "unknown type 'integer'"),
        ({"type": "string", "nullable": True}, r"unknown settings \['nullable'\]"),
        ({"type": "decimal", "precision": 12}, "a decimal needs integer precision"),
        ({"type": "decimal", "precision": 2, "scale": 3}, "a decimal needs integer precision"),
        ({"type": "number", "minimum": 0}, "minimum is a number, and only a decimal has one"),
        ({"type": "string", "null_reason": "null_x"}, "null_reason is a reason name"),
        ({"type": "string", "required": True, "null_reason": "it's null"}, "null_reason is a"),
    ],
)
def test_a_field_declaration_staging_could_not_check_is_refused(tmp_path, field, message):
    document = _document()
    document["datasets"]["events"]["fields"]["extra"] = field
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(document))
    with pytest.raises(sources.SourceConfigError, match=f"field 'extra': {message}"):
        sources.raw_datasets(path)
    with pytest.raises(sources.SourceConfigError, match=message):
        sources.load(path)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20 10:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20t10:00:05z", datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)),
        # digits past the microsecond are dropped, never rounded
        ("2026-11-20T10:00:00.1234569Z", datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-20T10:00+05:30", datetime(2026, 11, 20, 4, 30, tzinfo=UTC)),
        ("2026-11-20T10:00-0530", datetime(2026, 11, 20, 15, 30, tzinfo=UTC)),
        ("2026-11-20T10:00+05", datetime(2026, 11, 20, 5, tzinfo=UTC)),
        # what staging does not read as a time is none here either (raw_json.sql)
        ("2026-11-20T24:00", None),
        ("2026-02-30", None),
        ("2026-W47-5", None),
        ("2026-11-20T10:00:00Z\n", None),
        ("20/11/2026", None),
    ],
)
def test_timestamps_are_read_by_the_profile_staging_parses_them_with(text, moment):
    profile = sources.timestamp_profile(json.loads(sources.SOURCES_FILE.read_text()))
    assert profile.parse(text) == moment


def test_the_timestamp_profile_dbt_reads_is_the_declaration_checked(monkeypatch, tmp_path):
    monkeypatch.delenv("INGEST_SOURCES_FILE", raising=False)
    declared = json.loads(sources.SOURCES_FILE.read_text())
    assert sources.raw_timestamp() == {
        key: declared["timestamp"][key] for key in ("pattern", "profile")
    }
    declared["timestamp"]["pattern"] = "^([0-9-]+)$"
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(declared))
    with pytest.raises(sources.SourceConfigError, match="6 groups"):
        sources.raw_timestamp(path)
    with pytest.raises(sources.SourceConfigError, match="6 groups"):
        sources.load(path)


def test_pages_encode_to_the_same_bytes_in_the_api_order():
    records = [{"b": 1, "a": "é"}, {"a": None}]
    assert ingestion.encode_page(records) == '{"b":1,"a":"é"}\n{"a":null}\n'.encode()
    assert ingestion.encode_page([]) == b""


def test_the_state_prefix_must_be_hidden_from_athena(monkeypatch):
    monkeypatch.setenv("RAW_BUCKET", "raw")
    monkeypatch.setenv("INGEST_STATE_PREFIX", "ingest_state")
    with pytest.raises(ingest.ConfigurationError, match="must start with '_'"):
        ingest.location_from_env()
    monkeypatch.setenv("INGEST_STATE_PREFIX", "/_ingest/")
    assert ingest.location_from_env() == ingestion.Location("raw", "_ingest")


def test_keys_are_deterministic_per_source_day_and_page(tmp_path):
    source = _source(tmp_path)
    location = ingestion.Location("raw", "_ingest")
    assert (
        location.landed_key(source, "2026-11-20", 3)
        == "events/dt=2026-11-20/example_events_api-page-00003.jsonl"
    )
    assert (
        location.staged_key(source, "2026-11-20", 3)
        == "_ingest/example_events_api/dt=2026-11-20/pages/page-00003.jsonl"
    )
    assert ingestion.first_request(source, "2026-11-20") == {
        "since": "2026-11-20T00:00:00Z",
        "until": "2026-11-21T00:00:00Z",
        "limit": 500,
    }


def test_a_source_s_secret_is_its_environment_s(tmp_path):
    """Named by the environment's prefix (contracts/naming.json), so two environments of an
    account never share a source's token; a source without auth has none."""
    source = _source(tmp_path)
    assert source.secret_id("lakehouse-dev/sources/") == "lakehouse-dev/sources/example_events_api"
    assert (
        source.secret_id("lakehouse-prod/sources/") == "lakehouse-prod/sources/example_events_api"
    )
    assert _source(tmp_path, auth={"type": "none"}).secret_id("lakehouse-dev/sources/") is None


def test_an_invocation_s_reserve_is_a_share_of_its_time_at_most_a_minute():
    from dbt_runtime.handlers.ingest import RESERVE_S, RESERVE_SHARE, reserve_s

    assert reserve_s(lambda: 900.0) == RESERVE_S == 60.0  # AWS: the function's 15 minutes
    assert reserve_s(lambda: 10.0) == pytest.approx(10.0 * RESERVE_SHARE)
    assert reserve_s(None) == RESERVE_S  # no context: nothing to measure
