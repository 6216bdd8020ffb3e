"""A model that fails: the DAG run fails with dbt's error, the ledger and the alert say why."""

from __future__ import annotations

import json
from datetime import date

import pytest

from local import sample_data
from local.demo import run_dag_for_day

pytestmark = pytest.mark.e2e
DAY = date(2026, 11, 10)


def test_model_failure_fails_the_run_records_the_cause_and_alerts(local_stack):
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
    s3.put_object(
        Bucket=bucket, Key=f"users/dt={DAY}/part-99999.jsonl", Body=json.dumps(bad).encode()
    )
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
    assert alerts[0]["Subject"] == "lakehouse_raw_to_curated run FAILED"

    log = (stack.dir / "e2e-failure.log").read_text()
    assert "StateMachineExecutionFailed" in log and "Conversion Error" in log
