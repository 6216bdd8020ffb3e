"""Elementary's tables from kept dbt artifacts, and the report's figures from those tables."""

from __future__ import annotations

import pyarrow as pa
import pytest
from dbt_runtime import elementary
from dbt_runtime.settings import ConfigurationError, Settings

from lakehouse_ops import report

pytestmark = pytest.mark.unit

STG = "model.lakehouse.stg_raw_events"
FCT = "model.lakehouse.fct_events"
DAILY = "model.lakehouse.daily_metrics"
USERS = "model.lakehouse.dim_users"
T_FCT = "test.lakehouse.unique_fct_events_event_id.1"
T_DAILY = "test.lakehouse.not_null_daily_metrics_events.2"
T_USERS = "test.lakehouse.unique_dim_users_user_id.3"


def node(uid: str, parents=(), **extra) -> dict:
    kind, _, name = uid.split(".")[:3]
    return {
        "unique_id": uid,
        "resource_type": kind,
        "name": name,
        "alias": name,
        "database": "warehouse",
        "schema": "curated",
        "depends_on": {"nodes": list(parents), "macros": []},
        "config": {"materialized": "view" if "stg" in uid else "iceberg_table"}
        if kind == "model"
        else {"severity": "ERROR"},
        **extra,
    }


NODES = {
    STG: node(STG),
    FCT: node(FCT, [STG]),
    DAILY: node(DAILY, [FCT]),
    USERS: node(USERS),
    T_FCT: node(T_FCT, [FCT], attached_node=FCT, test_metadata={"name": "unique"}),
    T_DAILY: node(T_DAILY, [DAILY], attached_node=DAILY, test_metadata={"name": "not_null"}),
    T_USERS: node(T_USERS, [USERS], attached_node=USERS, test_metadata={"name": "unique"}),
}


def doc(invocation_id: str, stage: str, command: str, results: list, started: str) -> dict:
    return {
        "stage": stage,
        "run_id": "scheduled__2026-11-21T06:00:00+00:00",
        "pipeline": "lakehouse_raw_to_curated",
        "execution_id": "arn:aws:states:us-east-1:1:execution:sm:run-abc-t1",
        "interval": {"start": "2026-11-20", "end": "2026-11-21"},
        "command": command,
        "invocation_id": invocation_id,
        "full_refresh": False,
        "metadata": {
            "dbt_version": "1.11.16",
            "invocation_started_at": started,
            "generated_at": started.replace(":00Z", ":30Z"),
            "project_name": "lakehouse",
        },
        "args": {"which": command, "select": ["path:models/marts"], "vars": {"run_id": "r"}},
        "results": results,
        "nodes": NODES,
        "row_counts": {STG: 300},
    }


def result(uid: str, status: str, rows=None, **extra) -> dict:
    return {
        "unique_id": uid,
        "status": status,
        "execution_time": 1.5,
        "adapter_response": {} if rows is None else {"rows_affected": rows},
        "timing": [{"name": "execute", "started_at": "2026-11-21T06:01:00Z", "completed_at": "x"}],
        **extra,
    }


def failed_marts_execution() -> list[dict]:
    staging = doc("inv-stg", "dbt_staging", "run", [result(STG, "success")], "06:00:00Z")
    marts = doc(
        "inv-marts",
        "dbt_marts",
        "run",
        [
            result(FCT, "error", message="Binder Error: no_such_column"),
            result(DAILY, "skipped"),
            result(USERS, "success", rows=7),
        ],
        "06:01:00Z",
    )
    return [staging, marts]


def test_a_failed_model_is_an_error_and_the_tests_that_never_ran_are_skipped():
    rows = elementary.run_result_rows(failed_marts_execution())
    by_node = {r["unique_id"]: r for r in rows}
    assert by_node[FCT]["status"] == "error" and "no_such_column" in by_node[FCT]["message"]
    assert by_node[FCT]["model_execution_id"] == "inv-marts." + FCT
    assert by_node[DAILY]["status"] == "skipped"
    # The adapter's count where it gave one, else the rows the dbt-executor counted.
    assert by_node[STG]["rows_affected"] == 300 and by_node[USERS]["rows_affected"] == 7
    assert by_node[STG]["execute_started_at"] == "2026-11-21T06:01:00Z"
    for test in (T_FCT, T_DAILY, T_USERS):
        assert by_node[test]["status"] == "skipped"
        assert by_node[test]["invocation_id"] == "inv-marts"  # the invocation that failed
    assert by_node[T_FCT]["message"].startswith("skipped: depends on fct_events")
    assert by_node[T_DAILY]["message"].startswith("skipped: depends on daily_metrics")
    assert by_node[T_USERS]["message"] == (
        "not run: the run failed in stage dbt_marts before its tests ran"
    )
    assert len(rows) == len({r["model_execution_id"] for r in rows}) == 7
    table = pa.Table.from_pylist(rows, schema=elementary.RUN_RESULTS_SCHEMA)
    assert table.num_rows == 7


def test_tests_that_ran_get_no_skipped_row_and_models_without_a_reason_are_left_out():
    tests = doc(
        "inv-test",
        "tests",
        "test",
        [result(T_FCT, "pass", failures=0), result(T_USERS, "fail", failures=2)],
        "06:02:00Z",
    )
    tests["results"].append(result(T_DAILY, "pass", failures=0))
    rows = elementary.run_result_rows([tests])  # a redrive from the tests stage
    assert sorted(r["status"] for r in rows) == ["fail", "pass", "pass"]


def test_one_invocation_row_per_dbt_invocation_with_the_run_and_its_day():
    rows = elementary.invocation_rows(failed_marts_execution())
    assert [r["invocation_id"] for r in rows] == ["inv-stg", "inv-marts"]
    first = rows[0]
    assert first["job_run_id"] == "scheduled__2026-11-21T06:00:00+00:00"
    assert first["job_id"] == "lakehouse_raw_to_curated" and first["orchestrator"] == "airflow"
    assert (first["interval_start"], first["interval_end"]) == ("2026-11-20", "2026-11-21")
    assert first["command"] == "run" and first["stage"] == "dbt_staging"
    assert first["selected"] == '["path:models/marts"]'
    assert first["run_started_at"] == "06:00:00Z" and first["dbt_version"] == "1.11.16"
    pa.Table.from_pylist(rows, schema=elementary.INVOCATIONS_SCHEMA)


def test_models_and_tests_tables_describe_the_project_nodes():
    models = {m["name"]: m for m in elementary.model_rows(NODES)}
    assert sorted(models) == ["daily_metrics", "dim_users", "fct_events", "stg_raw_events"]
    assert models["fct_events"]["depends_on_nodes"] == f'["{STG}"]'
    assert models["stg_raw_events"]["materialization"] == "view"
    tests = {t["unique_id"]: t for t in elementary.test_rows(NODES)}
    assert tests[T_FCT]["parent_model_unique_id"] == FCT
    assert tests[T_FCT]["short_name"] == "unique" and tests[T_FCT]["severity"] == "ERROR"
    assert tests[T_FCT]["schema_name"] == "curated"
    again = {t["unique_id"]: t for t in elementary.test_rows(NODES)}
    assert again[T_FCT]["metadata_hash"] == tests[T_FCT]["metadata_hash"]


def test_every_table_is_written_keyed_so_a_rewrite_replaces_instead_of_adding():
    tables = elementary.tables(failed_marts_execution())
    assert set(tables) == {
        "elementary_test_results",
        "dbt_run_results",
        "dbt_invocations",
        "dbt_models",
        "dbt_tests",
    }
    assert tables["dbt_run_results"][1] == "invocation_id"
    assert tables["dbt_invocations"][1] == "invocation_id"
    assert tables["elementary_test_results"][1] == "invocation_id"
    assert tables["dbt_models"][1] is None and tables["dbt_tests"][1] is None
    assert tables["elementary_test_results"][0].num_rows == 0  # no test ran
    assert tables["dbt_run_results"][0].num_rows == 7


def test_artifacts_location_is_required_and_plain(monkeypatch):
    from dbt_runtime import artifacts

    for name, value in {
        "DBT_TARGET": "athena",
        "DBT_PROJECT_DIR": "/x",
        "RAW_BUCKET": "raw",
        "CURATED_BUCKET": "cur",
        "RAW_DATABASE": "r",
        "CURATED_DATABASE": "c",
        "ELEMENTARY_DATABASE": "e",
        "ATHENA_RESULTS_S3": "s3://q/",
        "DBT_ARTIFACTS_S3": "s3://cur/dbt_artifacts",
        "RUNS_TABLE": "runs",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.dbt_artifacts_s3 == "s3://cur/dbt_artifacts/"
    bucket, prefix = artifacts.location(
        settings,
        {"run_id": "manual__2026-11-21T06:00:00+00:00", "execution_id": "arn:x:execution:sm:e-t2"},
    )
    assert (bucket, prefix) == ("cur", "dbt_artifacts/manual__2026-11-21T06_00_00_00_00/e-t2/")
    with pytest.raises(ValueError, match="run_id"):
        artifacts.location(settings, {})
    monkeypatch.setenv("DBT_ARTIFACTS_S3", "cur/dbt_artifacts")
    with pytest.raises(ConfigurationError, match="DBT_ARTIFACTS_S3"):
        Settings.from_env()


def test_report_figures_take_the_latest_result_of_each_day():
    execution = failed_marts_execution()
    rerun = doc(
        "inv-marts-2",
        "dbt_marts",
        "run",
        [result(FCT, "success", rows=40), result(DAILY, "success", rows=3)],
        "07:00:00Z",
    )
    rerun["execution_id"] = "arn:aws:states:us-east-1:1:execution:sm:run-abc-t2"
    invocations = elementary.invocation_rows([*execution, rerun])
    run_results = elementary.run_result_rows(execution) + elementary.run_result_rows([rerun])
    figures = report.figures(invocations, run_results, [])
    assert figures["days"] == ["2026-11-20"]
    assert figures["rows"]["2026-11-20"] == {
        "stg_raw_events": 300,
        "fct_events": 40,  # the rerun replaced the error
        "dim_users": 7,
        "daily_metrics": 3,
    }
    assert figures["tests"]["2026-11-20"] == {
        "pass": 0,
        "warn": 0,
        "fail": 0,
        "error": 0,
        "skipped": 3,
    }
    assert [r["execution"] for r in figures["runs"]] == ["run-abc-t2", "run-abc-t1"]
    assert figures["latest"]["execution"] == "run-abc-t2"
    failures = figures["failures"]
    assert [(f["kind"], f["name"], f["status"]) for f in failures] == [
        ("model", "fct_events", "error")
    ]
    page = report.render(figures)
    assert 'data-figure="rows.2026-11-20.fct_events">40<' in page
    assert "Binder Error: no_such_column" in page
    assert "</script" not in page.split('id="report-data"')[1].split("</script>")[0]


def test_report_lists_warnings_as_anomalies_apart_from_the_failures():
    execution = failed_marts_execution()
    invocations = elementary.invocation_rows(execution)
    invocation_id = invocations[0]["invocation_id"]

    def tested(name, status, test_type="dbt_test", sub_type="generic"):
        return {
            "invocation_id": invocation_id,
            "test_short_name": name,
            "status": status,
            "test_type": test_type,
            "test_sub_type": sub_type,
            "table_name": "fct_events",
            "failures": 1,
        }

    test_results = [
        tested("volume_anomaly_fct_events_landed_on", "warn", "anomaly_detection", "row_count"),
        tested("expect_many_events", "warn"),
        tested("unique_fct_events_event_id", "fail"),
        tested("not_null_fct_events_user_id", "pass"),
    ]
    figures = report.figures(invocations, [], test_results)
    assert [(f["kind"], f["name"]) for f in figures["failures"]] == [
        ("test", "unique_fct_events_event_id")
    ]
    assert sorted((w["kind"], w["name"]) for w in figures["warnings"]) == [
        ("anomaly: row_count", "volume_anomaly_fct_events_landed_on"),
        ("warning", "expect_many_events"),
    ]
    page = report.render(figures)
    warnings = page.split("<h2>Anomalies and warnings</h2>")[1].split("<script")[0]
    failures = page.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert 'data-warning="volume_anomaly_fct_events_landed_on"' in warnings
    assert "anomaly: row_count" in warnings
    assert "volume_anomaly" not in failures and "expect_many_events" not in failures
