import pytest
from dbt_runtime import elementary
from dbt_runtime.dbt_invocation import Interval, InvalidEvent
from dbt_runtime.settings import ConfigurationError, Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "event, message",
    [
        ({}, "event.interval must be"),
        ({"interval": {"start": "2026-11-20"}}, "event.interval must be"),
        ({"interval": {"start": "2026-13-01", "end": "2026-11-21"}}, "invalid date"),
        ({"interval": {"start": "2026-11-21", "end": "2026-11-21"}}, "must be after"),
    ],
)
def test_malformed_events_are_rejected_before_dbt_runs(event, message):
    with pytest.raises(InvalidEvent, match=message):
        Interval.from_event(event)


def test_interval_accepts_dates_and_timestamps():
    interval = Interval.from_event(
        {"interval": {"start": "2026-11-20T06:00:00+00:00", "end": "2026-11-22"}}
    )
    assert (interval.start.isoformat(), interval.end.isoformat()) == ("2026-11-20", "2026-11-22")


def test_settings_name_the_missing_variable(monkeypatch):
    monkeypatch.delenv("RAW_BUCKET", raising=False)
    monkeypatch.setenv("DBT_TARGET", "local")
    monkeypatch.setenv("DBT_PROJECT_DIR", "/x")
    monkeypatch.setenv("DUCKDB_PATH", "/tmp/x.duckdb")
    with pytest.raises(ConfigurationError, match="RAW_BUCKET"):
        Settings.from_env()
    monkeypatch.setenv("DBT_TARGET", "snowflake")
    with pytest.raises(ConfigurationError, match="DBT_TARGET"):
        Settings.from_env()


def test_every_test_result_becomes_one_elementary_row_pass_or_fail():
    nodes = {
        "model.lakehouse.fct_events": {
            "database": "warehouse",
            "schema": "curated",
            "name": "fct_events",
            "alias": "fct_events",
        },
        "test.lakehouse.unique_fct_events_event_id.1": {
            "name": "unique_fct_events_event_id",
            "alias": "unique_fct_events_event_id",
            "column_name": "event_id",
            "attached_node": "model.lakehouse.fct_events",
            "test_metadata": {"name": "unique", "kwargs": {"column_name": "event_id"}},
            "config": {"severity": "error"},
            "compiled_code": "select 1",
        },
        "test.lakehouse.not_null_fct_events_user_id.2": {
            "name": "not_null_fct_events_user_id",
            "column_name": "user_id",
            "attached_node": "model.lakehouse.fct_events",
            "test_metadata": {"name": "not_null", "kwargs": {}},
            "config": {},
        },
    }
    results = [
        {"unique_id": "model.lakehouse.fct_events", "status": "success"},
        {
            "unique_id": "test.lakehouse.unique_fct_events_event_id.1",
            "status": "pass",
            "failures": 0,
            "timing": [{"name": "execute", "completed_at": "2026-11-21T06:10:00.5Z"}],
        },
        {
            "unique_id": "test.lakehouse.not_null_fct_events_user_id.2",
            "status": "fail",
            "failures": 3,
            "message": "Got 3 results, configured to fail if != 0",
        },
    ]
    rows = elementary.test_result_rows("inv-1", results, nodes)
    assert [r["status"] for r in rows] == ["pass", "fail"]
    first, second = rows
    assert first["test_execution_id"] == "inv-1.test.lakehouse.unique_fct_events_event_id.1"
    assert (first["table_name"], first["column_name"], first["test_name"]) == (
        "fct_events",
        "event_id",
        "unique",
    )
    assert first["detected_at"].isoformat() == "2026-11-21T06:10:00.500000"
    assert (second["failures"], second["failed_row_count"]) == (3, 3)
    assert second["severity"] == "ERROR"
    table = elementary.as_arrow(rows)
    assert table.schema == elementary.TEST_RESULTS_SCHEMA and table.num_rows == 2


def test_an_anomaly_test_is_recorded_as_elementarys_anomaly_detection_with_its_warning():
    uid = "test.lakehouse.volume_anomaly_fct_events_landed_on.3"
    nodes = {
        uid: {
            "name": "volume_anomaly_fct_events_landed_on",
            "column_name": "landed_on",
            "attached_node": "model.lakehouse.fct_events",
            "test_metadata": {"name": "volume_anomaly", "kwargs": {"column_name": "landed_on"}},
            "config": {"severity": "warn", "meta": {"anomaly": "row_count"}},
        },
        "test.lakehouse.not_null_fct_events_user_id.2": {
            "name": "not_null_fct_events_user_id",
            "test_metadata": {"name": "not_null", "kwargs": {}},
            "config": {"severity": "warn"},
        },
    }
    results = [
        {"unique_id": uid, "status": "warn", "failures": 1, "message": "Got 1 result"},
        {"unique_id": "test.lakehouse.not_null_fct_events_user_id.2", "status": "warn"},
    ]
    anomaly, plain = elementary.test_result_rows("inv-1", results, nodes)
    assert (anomaly["test_type"], anomaly["test_sub_type"]) == ("anomaly_detection", "row_count")
    assert (anomaly["severity"], anomaly["status"], anomaly["failures"]) == ("WARN", "warn", 1)
    assert (plain["test_type"], plain["test_sub_type"]) == ("dbt_test", "generic")


def test_a_cause_shared_by_several_models_is_reported_once():
    pytest.importorskip("aws_lambda_powertools")
    from dbt_runtime.handlers.dbt_executor import _failure_details

    def framed(name: str, cause: str) -> str:
        return (
            f"Compilation Error in model {name} (models/marts/{name}.sql)\n  {cause}\n"
            f"  > called by model {name} (models/marts/{name}.sql)"
        )

    failed = [
        {"name": "fct_events", "message": framed("fct_events", "Too many bad raw event lines")},
        {"name": "dim_users", "message": framed("dim_users", "Too many bad raw event lines")},
        {"name": "daily_metrics", "message": "Runtime Error: division by zero"},
    ]
    details = _failure_details(failed)
    assert details.count("Too many bad raw event lines") == 1
    assert details.startswith("fct_events, dim_users: Compilation Error in model fct_events")
    assert details.endswith("; daily_metrics: Runtime Error: division by zero")
