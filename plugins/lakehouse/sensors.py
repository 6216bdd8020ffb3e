"""Deferrable waits that fail with what went wrong and keep the run ledger up to date.

Each wait checks once in a worker; while the crawl or the execution runs, it defers to the
Amazon provider's waiter trigger (the triggerer polls every `poke_interval` seconds; no worker
slot is held) and resumes in a worker for one more check, which records the outcome and fails
with its cause. When the trigger's budget of polls runs out while the thing still runs, the
wait defers again: it never ends early, only when the crawl or the execution does (or, for the
crawler, when the crawl has run longer than `timeout`).
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime

from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor
from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
)

# Polls per deferral when nothing bounds the wait (an execution without TimeoutSeconds): a day.
UNBOUNDED_WAIT_SECONDS = 24 * 3600
# Read when the task runs: caps the polls of one deferral (tests prove that a wait whose budget
# runs out defers again instead of failing).
MAX_ATTEMPTS_ENV = "LAKEHOUSE_WAIT_MAX_ATTEMPTS"


class StateMachineExecutionFailed(AirflowException):
    """The Step Functions execution ended in FAILED, TIMED_OUT or ABORTED."""


class CrawlFailed(AirflowFailException):
    """The crawl ended FAILED or CANCELLED. Checking again reads the same crawl, so the wait
    fails without retries; rerunning starts a new crawl (start_raw_crawler)."""


def _ledger(runs_table: str, aws_conn_id: str | None):
    from lakehouse.ledger import RunLedger

    return RunLedger(runs_table, aws_conn_id=aws_conn_id or "aws_default")


def waiter_attempts(budget_s: float, delay_s: float) -> int:
    """Polls that cover `budget_s` seconds at one poll every `delay_s` (one more for the first,
    immediate poll), unless MAX_ATTEMPTS_ENV caps them."""
    attempts = math.ceil(max(budget_s, 0) / max(delay_s, 1)) + 1
    cap = os.environ.get(MAX_ATTEMPTS_ENV)
    return min(attempts, int(cap)) if cap else attempts


class _DeferrableWait:
    """What both waits share: check in the worker, defer while running, check on resume."""

    def execute(self, context):
        self.before_waiting(context)
        if not self.poke(context):
            self.defer_until_done(context)

    def resume(self, context, event=None):
        # The event says only that the trigger stopped (the thing ended, or the polls ran out):
        # the check reads the outcome itself.
        if event and event.get("status") != "success":
            self.log.info("The trigger stopped: %s", event.get("message"))
        if not self.poke(context):
            self.log.info("Still running after the trigger's polls: waiting again")
            self.defer_until_done(context)

    def before_waiting(self, context) -> None:
        """Runs once, before the first check."""

    def defer_until_done(self, context) -> None:
        trigger = self.trigger(context)
        self.log.info(
            "Deferring: the triggerer checks every %s s, %s times at most",
            trigger.waiter_delay,
            trigger.attempts,
        )
        self.defer(trigger=trigger, method_name="resume")

    def _trigger_args(self) -> dict:
        return {
            "waiter_delay": int(self.poke_interval),
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "botocore_config": self.botocore_config,
        }


class CrawlerStageSensor(_DeferrableWait, GlueCrawlerSensor):
    """Waits for the crawl (deferred on the provider's GlueCrawlerCompleteTrigger) and writes
    the crawler stage to the run ledger when it ends, succeeded or failed (status, start, end,
    duration, and the crawler's error message).

    The provider's sensor fails with only "Status: FAILED"; the run ledger and the alert need
    Glue's reason (LastCrawl.ErrorMessage) and where its log is. `timeout` bounds how long the
    crawl may run (GetCrawler's CrawlElapsedTime).
    """

    template_fields = (*GlueCrawlerSensor.template_fields, "runs_table", "pipeline")

    def __init__(self, *, runs_table: str, pipeline: str, **kwargs):
        super().__init__(**kwargs)
        self.runs_table = runs_table
        self.pipeline = pipeline

    def trigger(self, context):
        return GlueCrawlerCompleteTrigger(
            crawler_name=self.crawler_name,
            waiter_max_attempts=waiter_attempts(self.timeout, self.poke_interval),
            **self._trigger_args(),
        )

    def poke(self, context) -> bool:
        crawler = self.hook.get_crawler(self.crawler_name)
        if crawler["State"] != "READY":
            elapsed_s = (crawler.get("CrawlElapsedTime") or 0) / 1000
            self.log.info(
                "Crawler %s is %s (%.0f s)", self.crawler_name, crawler["State"], elapsed_s
            )
            if elapsed_s > self.timeout:
                raise AirflowSensorTimeout(
                    f"Crawler {self.crawler_name} has run {elapsed_s:.0f} s, over {self.timeout} s"
                )
            return False
        last = crawler.get("LastCrawl") or {}
        status = last.get("Status")
        self._record(context, last)
        if status == self.success_statuses:
            self.log.info("Crawler %s: %s", self.crawler_name, status)
            return True
        where = "/".join(p for p in (last.get("LogGroup"), last.get("LogStream")) if p)
        raise CrawlFailed(
            f"Crawler {self.crawler_name} ended {status}: "
            f"{last.get('ErrorMessage') or '(no error message)'}"
            + (f" (CloudWatch log: {where})" if where else "")
        )

    def _record(self, context, last: dict) -> None:
        started = last.get("StartTime")
        # GetCrawler gives no end time of the last crawl: the end is when this check saw it.
        ended = datetime.now(UTC)
        record = {
            "stage": "crawler",
            "crawler": self.crawler_name,
            "status": last.get("Status"),
            "started_at": started.isoformat() if started else None,
            "ended_at": ended.isoformat(timespec="milliseconds"),
            "duration_s": round((ended - started).total_seconds(), 3) if started else None,
        }
        if last.get("ErrorMessage"):
            record["error"] = last["ErrorMessage"]
        _ledger(self.runs_table, self.aws_conn_id).record_stage(
            self.pipeline, context["dag_run"].run_id, "crawler", record
        )


class StateMachineExecutionSensor(_DeferrableWait, StepFunctionExecutionSensor):
    """Waits for the execution (deferred on the provider's Step Functions trigger) and fails
    once, with the execution's error and cause.

    The provider's sensor reports only the (empty) output of a failed execution; operators
    need the error name and the cause (e.g. dbt's message) in the task log and the exception.
    With `runs_table`/`pipeline` it also logs how to open the run's record and, when the
    execution failed, stores the run's duration in the ledger.

    The trigger's polls cover the state machine's own timeout (its definition's TimeoutSeconds,
    read when the task runs; a day at a time when it has none): the execution ends before the
    wait does, and Step Functions, not Airflow, decides when it took too long.
    """

    template_fields = (
        *StepFunctionExecutionSensor.template_fields,
        "runs_table",
        "pipeline",
        "crawler_name",
    )

    def __init__(
        self,
        *,
        runs_table: str | None = None,
        pipeline: str | None = None,
        crawler_name: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.runs_table = runs_table
        self.pipeline = pipeline
        self.crawler_name = crawler_name

    def record_cost(self, context) -> None:
        """Store what the run cost in its record, once its execution has ended (succeeded or
        failed). Never raises: a missing cost must not change the run's outcome."""
        if not (self.runs_table and self.pipeline):
            return
        try:
            from airflow.sdk import Variable

            from lakehouse.cost import PRICES_VARIABLE, collect, format_cost

            ledger = _ledger(self.runs_table, self.aws_conn_id)
            overrides = Variable.get(PRICES_VARIABLE, default=None, deserialize_json=True)
            run_id = context["dag_run"].run_id
            record = ledger.require(self.pipeline, run_id)
            cost = collect(
                self.hook.get_session(region_name=self.hook.conn_region_name),
                record,
                self.crawler_name,
                endpoint_url=self.hook.conn_config.endpoint_url,
                overrides=overrides,
            )
            ledger.record_cost(self.pipeline, run_id, cost)
            self.log.info("Cost of the run:\n%s", "\n".join(format_cost(cost)))
        except Exception:
            self.log.exception("Could not work out the run's cost; the record has none")

    def before_waiting(self, context) -> None:
        if self.runs_table and self.pipeline:
            from lakehouse.ledger import console_region
            from lakehouse.summary import open_record_line

            self.log.info(
                "%s",
                open_record_line(
                    self.pipeline,
                    context["dag_run"].run_id,
                    self.runs_table,
                    console_region(self.hook),
                    self.execution_arn,
                ),
            )

    def state_machine_timeout(self) -> int | None:
        """TimeoutSeconds of the definition this execution runs, if it sets one."""
        import json

        described = self.hook.conn.describe_state_machine_for_execution(
            executionArn=self.execution_arn
        )
        return json.loads(described["definition"]).get("TimeoutSeconds")

    def trigger(self, context):
        from lakehouse.triggers import ExecutionEndTrigger

        timeout_s = self.state_machine_timeout()
        # Past the state machine's timeout, a few more polls see it end TIMED_OUT.
        budget_s = timeout_s + 3 * self.poke_interval if timeout_s else UNBOUNDED_WAIT_SECONDS
        return ExecutionEndTrigger(
            execution_arn=self.execution_arn,
            waiter_max_attempts=waiter_attempts(budget_s, self.poke_interval),
            **self._trigger_args(),
        )

    def poke(self, context) -> bool:
        execution = self.hook.describe_execution(self.execution_arn)
        status = execution["status"]
        if status in self.FAILURE_STATES:
            if self.runs_table and self.pipeline:
                _ledger(self.runs_table, self.aws_conn_id).record_duration(
                    self.pipeline, context["dag_run"].run_id
                )
            self.record_cost(context)
            error = execution.get("error") or status
            cause = execution.get("cause") or "(no cause reported)"
            raise StateMachineExecutionFailed(
                f"State machine execution {self.execution_arn} ended {status}: {error}: {cause}"
            )
        done = super().poke(context)
        if done:
            self.record_cost(context)
        return done
