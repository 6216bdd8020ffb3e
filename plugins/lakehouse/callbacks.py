"""Task callbacks: a failure outside the state machine still lands in the run ledger and alerts.

The state machine records and alerts its own failures (its Catch path). A task that fails
before or around it (plan errors, the crawler, starting the execution) is recorded here, and
the alert goes to the same SNS topic, so every failed run alerts exactly once.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# SNS takes up to 256 KB; a cause longer than this is cut (the ledger keeps 20,000 characters).
ALERT_CAUSE_CHARS = 4000


def failure_alert(
    pipeline: str,
    run_id: str,
    task_id: str,
    try_number: int | None,
    error: str,
    cause: str,
    record: dict | None,
    log_url: str | None = None,
) -> tuple[str, str]:
    """The alert's subject and message: what failed, why, and how to look further."""
    interval = (
        f" (interval {record.get('interval_start')} to {record.get('interval_end')})"
        if record and record.get("interval_start")
        else ""
    )
    if len(cause) > ALERT_CAUSE_CHARS:
        cause = cause[:ALERT_CAUSE_CHARS] + " [...]"
    lines = [
        f"Run {run_id} of {pipeline}{interval} FAILED in Airflow task {task_id}"
        + (f" (try {try_number})" if try_number else "")
        + ", outside the state machine.",
        f"Error: {error}",
        f"Cause: {cause}",
        f"Inspect: scripts/runs show {run_id}"
        if record
        else "Inspect: the Airflow task log (the run failed before it was recorded in the ledger)",
    ]
    if log_url:
        lines.append(f"Airflow task log: {log_url}")
    # The state machine's alert subject has the same shape (pipeline, interval, where it failed).
    where = (
        f"{record['interval_start']} to {record.get('interval_end')}, task {task_id}"
        if record and record.get("interval_start")
        else f"task {task_id}"
    )
    return f"{pipeline} FAILED: {where}"[:100], "\n".join(lines)


def record_task_failure(context) -> None:
    """on_failure_callback: mark the run FAILED with the task and its exception as cause, and
    publish an alert when nobody else did.

    The ledger update is conditional on the run still being RUNNING, so a failure the state
    machine already recorded (and alerted, with its own cause) is neither overwritten nor
    alerted twice. A run that failed before its ledger record existed (e.g. invalid params)
    alerts too. Nothing here may raise: the task's own failure must stay what Airflow reports.
    """
    ti = context["ti"]
    exception = context.get("exception")
    error = type(exception).__name__ if exception else "TaskFailed"
    cause = str(exception) if exception else f"task {ti.task_id} failed"
    run_id = context["dag_run"].run_id
    try:
        from airflow.sdk import Variable

        config = Variable.get("lakehouse_config", deserialize_json=True)
    except Exception:
        log.exception("could not read the Variable lakehouse_config: no ledger record, no alert")
        return

    record = None
    alert = True  # if the ledger cannot tell whether someone alerted, alert rather than not
    try:
        from lakehouse.ledger import RunLedger

        ledger = RunLedger(config["runs_table"])
        recorded = ledger.mark_failed_if_running(
            pipeline=config["pipeline"],
            run_id=run_id,
            stage=ti.task_id,
            error=error,
            cause=cause,
        )
        record = ledger.get(config["pipeline"], run_id)
        alert = recorded or record is None
        log.info(
            "run ledger %s",
            "marked FAILED" if recorded else "has no record" if record is None else "already final",
        )
    except Exception:
        log.exception("could not record the failure in the run ledger")

    if not alert:
        return
    try:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        subject, message = failure_alert(
            config["pipeline"],
            run_id,
            ti.task_id,
            getattr(ti, "try_number", None),
            error,
            cause,
            record,
            getattr(ti, "log_url", None),
        )
        SnsHook(aws_conn_id="aws_default").publish_to_target(
            target_arn=config["alerts_topic_arn"],
            message=message,
            subject=subject,
            message_attributes={"run_id": run_id, "stage": ti.task_id},
        )
        log.info("alert published to %s", config["alerts_topic_arn"])
    except Exception:
        log.exception("could not publish the failure alert")
