"""Task callbacks: a failure outside the state machine still lands in the run ledger."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def record_task_failure(context) -> None:
    """on_failure_callback: mark the run FAILED with the task and its exception as cause.

    Conditional on the run still being RUNNING, so a failure the state machine already
    recorded (with its own cause) is not overwritten.
    """
    from airflow.sdk import Variable

    from lakehouse.ledger import RunLedger

    ti = context["ti"]
    exception = context.get("exception")
    try:
        config = Variable.get("lakehouse_config", deserialize_json=True)
        recorded = RunLedger(config["runs_table"]).mark_failed_if_running(
            pipeline=config["pipeline"],
            run_id=context["dag_run"].run_id,
            stage=ti.task_id,
            error=type(exception).__name__ if exception else "TaskFailed",
            cause=str(exception) if exception else f"task {ti.task_id} failed",
        )
        log.info("run ledger %s", "marked FAILED" if recorded else "already final")
    except Exception:  # a callback must never hide the original failure
        log.exception("could not record the failure in the run ledger")
