"""on_failure_callback: records the failure and alerts once, only when the state machine did not
(its failures are already FAILED in the ledger), and never raises over the task's own failure.
The real ledger and SNS topic are exercised end to end in tests/e2e/test_faults.py."""

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.airflow
CONFIG = {
    "pipeline": "lakehouse_raw_to_curated",
    "runs_table": "runs",
    "alerts_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts",
}
RUN_ID = "scheduled__2026-11-21T06:00:00+00:00"


class Ledger:
    """The ledger item of one run, as DynamoDB would hold it (None: no item)."""

    item: dict | None = None
    broken = False

    def __init__(self, table_name):
        assert table_name == "runs"

    def mark_failed_if_running(self, pipeline, run_id, stage, error, cause):
        if Ledger.broken:
            raise ConnectionError("ledger unreachable")
        if Ledger.item is None or Ledger.item["status"] != "RUNNING":
            return False
        Ledger.item.update(status="FAILED", failed_stage=stage, error=error, cause=cause)
        return True

    def get(self, pipeline, run_id):
        return Ledger.item


@pytest.fixture
def published(monkeypatch):
    from airflow.providers.amazon.aws.hooks import sns
    from airflow.sdk import Variable
    from lakehouse import ledger

    messages = []

    class Sns:
        def __init__(self, aws_conn_id):
            pass

        def publish_to_target(self, **kwargs):
            if kwargs["message"].startswith("Run broken"):
                raise ConnectionError("SNS unreachable")
            messages.append(kwargs)

    monkeypatch.setattr(Variable, "get", staticmethod(lambda *args, **kwargs: CONFIG))
    monkeypatch.setattr(ledger, "RunLedger", Ledger)
    monkeypatch.setattr(sns, "SnsHook", Sns)
    Ledger.item, Ledger.broken = None, False
    return messages


def fail(task_id: str, exception: Exception, run_id: str = RUN_ID) -> None:
    from lakehouse.callbacks import record_task_failure

    ti = SimpleNamespace(task_id=task_id, try_number=1, log_url="http://airflow/log")
    record_task_failure(
        {"ti": ti, "exception": exception, "dag_run": SimpleNamespace(run_id=run_id)}
    )


def test_a_failure_outside_the_state_machine_is_recorded_and_alerted(published):
    Ledger.item = {
        "status": "RUNNING",
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
    }
    fail("wait_for_raw_crawler", RuntimeError("last crawl ended FAILED: out of memory"))
    assert Ledger.item["status"] == "FAILED" and Ledger.item["error"] == "RuntimeError"
    [alert] = published
    assert alert["target_arn"] == CONFIG["alerts_topic_arn"]
    assert alert["subject"] == (
        "lakehouse_raw_to_curated FAILED: 2026-11-20 to 2026-11-21, task wait_for_raw_crawler"
    )
    message = alert["message"]
    for part in (
        RUN_ID,
        "interval 2026-11-20 to 2026-11-21",
        "wait_for_raw_crawler (try 1)",
        "Error: RuntimeError",
        "Cause: last crawl ended FAILED: out of memory",
        f"scripts/runs show {RUN_ID}",
        "http://airflow/log",
    ):
        assert part in message
    assert alert["message_attributes"] == {"run_id": RUN_ID, "stage": "wait_for_raw_crawler"}


def test_no_second_alert_when_the_state_machine_recorded_the_failure(published):
    Ledger.item = {"status": "FAILED", "error": "DbtRunError", "cause": "dbt's message"}
    fail("wait_for_transform", RuntimeError("State machine execution ... ended FAILED"))
    assert published == []
    assert Ledger.item["error"] == "DbtRunError"  # the state machine's cause is kept


def test_a_run_that_failed_before_its_ledger_record_alerts(published):
    fail("plan_run", ValueError("interval_end (2026-11-20) must be after interval_start"))
    [alert] = published
    assert "plan_run" in alert["message"] and "must be after interval_start" in alert["message"]
    assert "before it was recorded in the ledger" in alert["message"]
    assert alert["subject"] == "lakehouse_raw_to_curated FAILED: task plan_run"


def test_the_callback_never_raises(published):
    Ledger.broken = True  # the ledger cannot say whether someone alerted: alert
    fail("start_raw_crawler", RuntimeError("boom"))
    assert len(published) == 1
    fail("start_raw_crawler", RuntimeError("boom"), run_id="broken")  # SNS fails too
    assert len(published) == 1
