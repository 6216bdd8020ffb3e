"""The real DAG, through the real state machine and Lambdas, on a generated day."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from local import sample_data
from local.demo import run_dag_for_day

pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]
REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 20)
EXPECTED_TESTS = 44
# The anomaly tests (dbt_project/tests/generic), by test name: warn severity by default.
ANOMALY_TESTS = {"volume_anomaly": "row_count", "raw_freshness": "freshness"}


def raw_lines(s3, bucket: str, prefix: str) -> list[dict]:
    """Read the raw zone back: the expectations come from the files, not from dbt."""
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def daily_run(local_stack):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    sample_data.write_day(s3, provisioned.names.raw_bucket, DAY, events=3000, seed=11)
    code = run_dag_for_day(stack, DAY, log_name="e2e-daily.log")
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    events = raw_lines(s3, provisioned.names.raw_bucket, f"events/dt={DAY}/")
    users = raw_lines(s3, provisioned.names.raw_bucket, f"users/dt={DAY}/")
    return code, run, events, users, lakehouse


def test_dag_run_succeeds_and_the_ledger_has_every_stage(daily_run):
    code, run, *_ = daily_run
    assert code == 0, "airflow dags test failed: see e2e-daily.log in the stack directory"
    assert run["status"] == "SUCCEEDED"
    assert (run["interval_start"], run["interval_end"]) == ("2026-11-20", "2026-11-21")
    assert set(run["stages"]) == {"crawler", "ingest", "dbt_staging", "dbt_marts", "tests"}
    # No API source is enabled by default: the only trace of ingestion is one quick invocation.
    ingest = run["stages"].pop("ingest")
    assert (ingest["status"], ingest["days"]) == ("SKIPPED", [])
    assert ingest["duration_s"] < 5
    for name, stage in run["stages"].items():
        assert stage["status"] == "SUCCEEDED", name
    assert run["execution_arn"].endswith("-t1")


def airflow_run(stack, run_id: str) -> dict:
    """The DAG run as Airflow's metadata database holds it (what the UI shows)."""
    with contextlib.closing(sqlite3.connect(stack.dir / "airflow" / "airflow.db")) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM dag_run WHERE run_id = ?", (run_id,)).fetchone()
    assert row is not None, f"Airflow has no DAG run {run_id}"
    return {
        key: datetime.fromisoformat(row[key]) if row[key] else None
        for key in ("logical_date", "data_interval_start", "data_interval_end")
        + ("start_date", "end_date")
    }


def test_the_demos_run_is_the_scheduled_run_of_its_day_and_lasts_what_it_took(
    daily_run, local_stack
):
    stack, *_ = local_stack
    _, run, *_ = daily_run
    dag_run = airflow_run(stack, run["run_id"])
    # The logical date and data interval the schedule gives the run of DAY (not DAY + 1).
    assert str(dag_run["logical_date"])[:16] == "2026-11-20 06:00"
    assert str(dag_run["data_interval_start"])[:16] == "2026-11-20 06:00"
    assert str(dag_run["data_interval_end"])[:16] == "2026-11-21 06:00"
    # What the UI shows as its duration: the run took seconds, not the days since DAY.
    took = (dag_run["end_date"] - dag_run["start_date"]).total_seconds()
    assert 0 < took < 300, dag_run
    assert float(run["duration_s"]) <= took


def test_execution_history_shows_every_lambda_ran(daily_run):
    _, run, _, _, lakehouse = daily_run
    invocations = lakehouse.lambda_invocations(run["execution_arn"])
    assert [(i["function"], i["outcome"]) for i in invocations] == [
        ("lakehouse-local-ingest", "TaskSucceeded"),  # once: it skipped, no source is enabled
        ("lakehouse-local-dbt-executor", "TaskSucceeded"),
        ("lakehouse-local-dbt-executor", "TaskSucceeded"),
        ("lakehouse-local-test-executor", "TaskSucceeded"),
        ("lakehouse-local-dbt-executor", "TaskSucceeded"),  # the run's relations dropped
    ]


def test_the_run_reads_each_raw_file_once_and_leaves_nothing_of_its_own(daily_run, local_stack):
    stack, *_ = local_stack
    _, run, *_ = daily_run
    # Only the staging stage's run-scoped tables read raw: the marts and the tests read them.
    assert run["stages"]["dbt_staging"]["raw_reads"] == {"events_lines": 1, "users_lines": 1}
    assert run["stages"]["dbt_marts"]["raw_reads"] == {}
    # The run succeeded, so its DuckDB file (its run-scoped relations) is gone.
    assert run["run_key"] and not list(stack.dir.glob(f"warehouse__{run['run_key']}*"))


def test_marts_match_counts_computed_from_the_raw_files(daily_run):
    _, run, events, users, lakehouse = daily_run
    fct = lakehouse.table("fct_events")
    assert fct.num_rows == len({e["event_id"] for e in events}) == 3000
    # late events (stamped before the day they landed) are in their own days
    per_day = Counter(e["event_ts"][:10] for e in events)
    assert len(per_day) > 1
    assert Counter(str(d) for d in fct["event_date"].to_pylist()) == per_day
    expected_revenue = sum(Decimal(str(e["revenue"])) for e in events if "revenue" in e)
    assert pc.sum(fct["revenue"]).as_py() == expected_revenue
    purchases = pc.sum(pc.equal(fct["event_type"], "purchase")).as_py()
    assert purchases == sum(1 for e in events if e["event_type"] == "purchase")
    metrics = {str(m["event_date"]): m for m in lakehouse.table("daily_metrics").to_pylist()}
    assert {d: m["events"] for d, m in metrics.items()} == per_day
    assert sum(m["revenue"] for m in metrics.values()) == expected_revenue

    dim = lakehouse.table("dim_users")
    day_users = dim.filter(
        pc.is_in(
            dim["user_id"], value_set=__import__("pyarrow").array([u["user_id"] for u in users])
        )
    )
    assert day_users.num_rows == len(users)
    by_id = {u["user_id"]: u for u in users}
    for row in day_users.to_pylist():
        assert row["email"] == by_id[row["user_id"]]["email"]
        assert row["country"] == by_id[row["user_id"]]["country"]

    models = {m["name"]: m for m in run["stages"]["dbt_staging"]["models"]}
    assert models["stg_raw_events"]["rows"] == len(events)
    assert models["stg_raw_users"]["rows"] == len(users)


def test_elementary_has_one_passing_row_per_test_of_the_run(daily_run):
    _, run, _, _, lakehouse = daily_run
    tests_stage = run["stages"]["tests"]
    results = lakehouse.test_results(tests_stage["invocation_id"])
    assert results.num_rows == EXPECTED_TESTS == tests_stage["total"]
    assert set(results["status"].to_pylist()) == {"pass"}
    assert len(set(results["test_unique_id"].to_pylist())) == EXPECTED_TESTS
    assert {t for t in results["table_name"].to_pylist()} == {
        "stg_raw_event_lines",
        "stg_raw_events",
        "stg_raw_user_lines",
        "stg_raw_users",
        "fct_events",
        "dim_users",
        "daily_metrics",
        "quarantined_events",
    }
    assert tests_stage["passed"] == EXPECTED_TESTS and tests_stage["failed"] == 0
    # The anomaly tests ran in the tests stage: the day landed (fresh), and one day is too
    # little history for a volume verdict.
    anomalies = {
        r["test_name"]: (r["test_type"], r["test_sub_type"], r["severity"], r["status"])
        for r in results.to_pylist()
        if r["test_name"] in ANOMALY_TESTS
    }
    assert anomalies == {
        name: ("anomaly_detection", kind, "WARN", "pass") for name, kind in ANOMALY_TESTS.items()
    }


def plant_outside_every_window(lakehouse, event_id: str) -> None:
    """A row of fct_events no run could write (an unknown event type), in a partition weeks
    before this module's days: outside the merge window of every daily run here."""
    from pyiceberg.expressions import EqualTo

    table = lakehouse.iceberg_table("fct_events")
    row = table.scan(limit=1).to_arrow().to_pylist()[0]
    row.update(event_id=event_id, event_type="not_an_event_type",
               event_date=date(2026, 10, 1), landed_on="2026-10-01")  # fmt: skip
    table.append(pa.Table.from_pylist([row], schema=table.schema().as_arrow()))
    assert table.scan(row_filter=EqualTo("event_id", event_id)).to_arrow().num_rows == 1


def test_a_day_whose_raw_partition_never_landed_warns_and_the_run_succeeds(daily_run, local_stack):
    """Also: a daily run's mart tests read the partitions of its merge window alone (the cost
    of its tests does not grow with the days stored), so a bad row planted weeks before it is
    not read; a full refresh's tests read whole tables (test_dbt_compile)."""
    from pyiceberg.expressions import EqualTo

    stack, *_ = local_stack
    *_, lakehouse = daily_run
    missing = DAY + timedelta(days=1)  # no raw file written for it
    plant_outside_every_window(lakehouse, "planted-outside-the-window")
    try:
        assert run_dag_for_day(stack, missing, log_name="e2e-missing-day.log") == 0
    finally:
        lakehouse.iceberg_table("fct_events").delete(
            EqualTo("event_id", "planted-outside-the-window")
        )
    run = next(r for r in lakehouse.runs() if r["interval_start"] == missing.isoformat())
    assert run["status"] == "SUCCEEDED"
    tests_stage = run["stages"]["tests"]
    assert tests_stage["status"] == "SUCCEEDED"
    assert (tests_stage["warned"], tests_stage["failed"], tests_stage["errored"]) == (1, 0, 0)
    results = lakehouse.test_results(tests_stage["invocation_id"]).to_pylist()
    statuses = {r["test_name"]: r["status"] for r in results if r["test_name"] in ANOMALY_TESTS}
    # The latest partition is DAY's, one day before the interval's: late. Volume: DAY is the
    # only day of history, too little to call the empty day a drop.
    assert statuses == {"raw_freshness": "warn", "volume_anomaly": "pass"}
    fresh = next(r for r in results if r["test_name"] == "raw_freshness")
    assert (fresh["severity"], fresh["failures"]) == ("WARN", 1)
    assert {r["status"] for r in results if r["test_name"] not in ANOMALY_TESTS} == {"pass"}
    assert any(r["test_name"] == "accepted_values" and "fct_events" in r["test_unique_id"]
               for r in results)  # fmt: skip


def test_full_refresh_rebuilds_the_marts_from_every_raw_day(daily_run, local_stack):
    stack, provisioned, _ = local_stack
    _, _, events, users, lakehouse = daily_run
    s3 = lakehouse.client("s3")
    earlier = date(2026, 11, 19)
    sample_data.write_day(s3, provisioned.names.raw_bucket, earlier, events=400, seed=12)
    earlier_events = raw_lines(s3, provisioned.names.raw_bucket, f"events/dt={earlier}/")

    assert run_dag_for_day(stack, DAY, "e2e-full-refresh.log", {"full_refresh": True}) == 0

    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    assert run["status"] == "SUCCEEDED" and run["full_refresh"] is True
    fct = lakehouse.table("fct_events")
    assert fct.num_rows == len(events) + len(earlier_events)  # both days, from raw
    per_day = Counter(e["event_ts"][:10] for e in events + earlier_events)
    assert Counter(str(d) for d in fct["event_date"].to_pylist()) == per_day
    staged = {m["name"]: m["rows"] for m in run["stages"]["dbt_staging"]["models"]}
    assert staged["stg_raw_events"] == len(events) + len(earlier_events)
    assert run["stages"]["tests"]["failed"] == 0  # a user in both days' exports is one row


def runs_command(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(stack.dir)}
    return subprocess.run(
        ["scripts/runs", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


def test_rerunning_the_day_without_a_scheduler_runs_it_here(daily_run, local_stack):
    stack, *_ = local_stack
    *_, lakehouse = daily_run
    recorded = lakehouse.runs()  # the module's earlier tests ran other days too
    before = {r["run_id"]: r for r in recorded if r["interval_start"] == str(DAY)}
    rows = lakehouse.table("fct_events").num_rows

    wrong = runs_command(stack, "rerun", "2026-11-18")
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.startswith("runs: no run for day 2026-11-18 in the run ledger"), wrong
    assert len(lakehouse.runs()) == len(recorded)  # and nothing ran

    result = runs_command(stack, "rerun", str(DAY))
    assert result.returncode == 0, result.stdout + result.stderr
    latest = max(before.values(), key=lambda r: r["started_at"])
    assert f"running day {DAY} here" in result.stdout
    assert f"(its latest run: {latest['run_id']}, SUCCEEDED)" in result.stdout
    new = [
        r for r in lakehouse.runs() if r["interval_start"] == str(DAY) and r["run_id"] not in before
    ]
    assert len(new) == 1 and new[0]["status"] == "SUCCEEDED", new
    assert f"{DAY}: DAG run {new[0]['run_id']} SUCCEEDED" in result.stdout
    assert new[0]["started_at"] > latest["started_at"]
    assert lakehouse.table("fct_events").num_rows == rows  # a rerun changes nothing
    dag_run = airflow_run(stack, new[0]["run_id"])
    assert str(dag_run["data_interval_start"])[:10] == str(DAY)


def test_backfilling_without_a_scheduler_runs_the_missing_days_here(daily_run, local_stack):
    stack, *_ = local_stack
    *_, lakehouse = daily_run
    earlier = date(2026, 11, 19)  # raw data written by the full refresh test, never run alone
    rows = lakehouse.table("fct_events").num_rows
    assert not [r for r in lakehouse.runs() if r["interval_start"] == str(earlier)]

    result = runs_command(stack, "backfill", str(earlier), str(DAY))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{DAY}: skipped, its latest run " in result.stdout  # done days are not rebuilt
    assert "running 1 day(s) here" in result.stdout
    new = [r for r in lakehouse.runs() if r["interval_start"] == str(earlier)]
    assert len(new) == 1 and new[0]["status"] == "SUCCEEDED", new
    assert f"{earlier}: DAG run {new[0]['run_id']} SUCCEEDED" in result.stdout
    assert lakehouse.table("fct_events").num_rows == rows  # already merged by the full refresh
    dag_run = airflow_run(stack, new[0]["run_id"])
    assert str(dag_run["logical_date"])[:16] == "2026-11-19 06:00"
