"""A model that fails: the DAG run fails with dbt's error, the ledger and the alert say why;
once the data is fixed, a rerun of the day succeeds with every raw event in fct_events once."""

from __future__ import annotations

import json
from datetime import date

import pytest

from local import sample_data
from local.demo import run_dag_for_day
from tests.e2e.test_daily_run import raw_lines

pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]
DAY = date(2026, 11, 10)


def test_model_failure_fails_the_run_records_the_cause_alerts_and_a_rerun_succeeds(local_stack):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    sample_data.write_day(s3, bucket, DAY, events=200, seed=3)
    # A producer bug in the users export: a timestamp that cannot be parsed. (Bad event lines
    # are quarantined instead, see test_quarantine.py; the users export is still read as typed
    # JSON.) Staging stays a view, so it is a dbt model reading it that fails.
    bad = {
        "user_id": "u9999999",
        "email": "bad@example.com",
        "country": "US",
        "plan": "free",
        "signed_up_at": "the day before yesterday",
        "updated_at": "2026-11-10T23:59:59Z",
    }
    bad_key = f"users/dt={DAY}/part-99999.jsonl"
    s3.put_object(Bucket=bucket, Key=bad_key, Body=json.dumps(bad).encode())
    lakehouse.alerts()  # start from an empty inbox

    code = run_dag_for_day(stack, DAY, log_name="e2e-failure.log")

    assert code != 0, "the DAG run should have failed"
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    assert run["status"] == "FAILED"
    assert run["failed_stage"] in ("dbt_staging", "dbt_marts")
    assert run["error"] in ("DbtRunError", "ConversionException")
    assert "the day before yesterday" in run["cause"]
    assert "Conversion Error" in run["cause"]

    alerts = lakehouse.alerts()
    assert len(alerts) == 1
    message = alerts[0]["Message"]
    assert run["run_id"] in message and "FAILED" in message and "Conversion Error" in message
    assert alerts[0]["Subject"].startswith("lakehouse_raw_to_curated FAILED: 2026-11-10")

    log = (stack.dir / "e2e-failure.log").read_text()
    assert "StateMachineExecutionFailed" in log and "Conversion Error" in log

    # The producer redelivers the file corrected (docs/runbooks.md: data fixed -> rerun the day).
    s3.put_object(
        Bucket=bucket,
        Key=bad_key,
        Body=json.dumps({**bad, "signed_up_at": f"{DAY}T12:00:00.000000Z"}).encode(),
    )
    assert run_dag_for_day(stack, DAY, log_name="e2e-failure-rerun.log") == 0
    rerun = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    assert rerun["run_id"] != run["run_id"] and rerun["status"] == "SUCCEEDED"
    assert lakehouse.alerts() == []
    raw_ids = {e["event_id"] for e in raw_lines(s3, bucket, f"events/dt={DAY}/")}
    stored = lakehouse.table("fct_events")["event_id"].to_pylist()
    assert len(stored) == len(set(stored)), "an event is in fct_events twice"
    assert raw_ids <= set(stored)  # (other tests' days may be there)
    users = lakehouse.table("dim_users")["user_id"].to_pylist()
    assert "u9999999" in users and len(users) == len(set(users))
