"""A model that fails: the DAG run fails with dbt's error, the ledger and the alert say why;
once the fix is deployed, a rerun of the day succeeds with every raw event in fct_events once.

Bad raw data no longer makes a model fail (it is quarantined: test_quarantine.py), so the
failure is a deployed project whose fct_events has a cast that fails on the day's data: an
error the engine raises while running the model, not one dbt finds when compiling it."""

from __future__ import annotations

from datetime import date

import pytest

from local import sample_data
from local.demo import run_dag_for_day
from tests.dbt_projects import deployed, project_copy, with_final_select_prefixed
from tests.e2e.test_daily_run import raw_lines

pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]
DAY = date(2026, 11, 10)


def facts(lakehouse) -> list[dict]:
    """fct_events' rows; none when no run has created the table yet."""
    names = [
        name
        for _, name in lakehouse.catalog.list_tables(
            lakehouse.resources["names"]["curated_database"]
        )
    ]
    return lakehouse.table("fct_events").to_pylist() if "fct_events" in names else []


def test_model_failure_fails_the_run_records_the_cause_alerts_and_a_rerun_succeeds(
    local_stack, tmp_path
):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    sample_data.write_day(s3, bucket, DAY, events=200, seed=3)
    broken = with_final_select_prefixed(
        project_copy(tmp_path), "fct_events", "cast(event_type as integer) as event_type_code"
    )
    lakehouse.alerts()  # start from an empty inbox
    with deployed(lakehouse, provisioned.names.dbt_executor_function, broken):
        code = run_dag_for_day(stack, DAY, log_name="e2e-failure.log")

    assert code != 0, "the DAG run should have failed"
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    assert run["status"] == "FAILED"
    assert run["failed_stage"] == "dbt_marts"
    assert run["error"] in ("DbtRunError", "ConversionException")
    assert "Conversion Error" in run["cause"] and "fct_events" in run["cause"]

    alerts = lakehouse.alerts()
    assert len(alerts) == 1
    message = alerts[0]["Message"]
    assert run["run_id"] in message and "FAILED" in message and "Conversion Error" in message
    assert alerts[0]["Subject"].startswith("lakehouse_raw_to_curated FAILED: 2026-11-10")

    log = (stack.dir / "e2e-failure.log").read_text()
    assert "StateMachineExecutionFailed" in log and "Conversion Error" in log
    # Nothing of the day was merged: fct_events failed (on a fresh stack it does not exist).
    assert not [r for r in facts(lakehouse) if str(r["landed_on"]) == str(DAY)]

    # The fix is deployed (the function's project is the repo's again): rerun the day
    # (docs/runbooks.md).
    assert run_dag_for_day(stack, DAY, log_name="e2e-failure-rerun.log") == 0
    rerun = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    assert rerun["run_id"] != run["run_id"] and rerun["status"] == "SUCCEEDED"
    assert lakehouse.alerts() == []
    raw_ids = {e["event_id"] for e in raw_lines(s3, bucket, f"events/dt={DAY}/")}
    stored = lakehouse.table("fct_events")["event_id"].to_pylist()
    assert len(stored) == len(set(stored)), "an event is in fct_events twice"
    assert raw_ids <= set(stored)  # (other tests' days may be there)
