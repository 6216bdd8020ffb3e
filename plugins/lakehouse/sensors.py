"""Sensors that wait like the Amazon provider's, fail with what went wrong, and keep the run
ledger up to date with what they saw."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class StateMachineExecutionFailed(AirflowException):
    """The Step Functions execution ended in FAILED, TIMED_OUT or ABORTED."""


class CrawlFailed(AirflowFailException):
    """The crawl ended FAILED or CANCELLED. Poking again reads the same crawl, so the sensor
    fails without retries; rerunning starts a new crawl (start_raw_crawler)."""


def _ledger(runs_table: str, aws_conn_id: str | None):
    from lakehouse.ledger import RunLedger

    return RunLedger(runs_table, aws_conn_id=aws_conn_id or "aws_default")


class CrawlerStageSensor(GlueCrawlerSensor):
    """GlueCrawlerSensor that writes the crawler stage to the run ledger when the crawl ends,
    succeeded or failed (status, start, end, duration, and the crawler's error message).

    The provider's sensor fails with only "Status: FAILED"; the run ledger and the alert need
    Glue's reason (LastCrawl.ErrorMessage) and where its log is.
    """

    template_fields = (*GlueCrawlerSensor.template_fields, "runs_table", "pipeline")

    def __init__(self, *, runs_table: str, pipeline: str, **kwargs):
        super().__init__(**kwargs)
        self.runs_table = runs_table
        self.pipeline = pipeline

    def poke(self, context) -> bool:
        crawler = self.hook.get_crawler(self.crawler_name)
        if crawler["State"] != "READY":
            self.log.info("Crawler %s is %s", self.crawler_name, crawler["State"])
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
        # GetCrawler gives no end time of the last crawl: the end is when this sensor saw it.
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


class StateMachineExecutionSensor(StepFunctionExecutionSensor):
    """StepFunctionExecutionSensor whose failure carries the execution's error and cause.

    The provider's sensor reports only the (empty) output of a failed execution; operators
    need the error name and the cause (e.g. dbt's message) in the task log and the exception.
    With `runs_table`/`pipeline` it also logs how to open the run's record and, when the
    execution failed, stores the run's duration in the ledger.
    """

    template_fields = (*StepFunctionExecutionSensor.template_fields, "runs_table", "pipeline")

    def __init__(self, *, runs_table: str | None = None, pipeline: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.runs_table = runs_table
        self.pipeline = pipeline

    def execute(self, context):
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
        return super().execute(context)

    def poke(self, context) -> bool:
        execution = self.hook.describe_execution(self.execution_arn)
        status = execution["status"]
        if status in self.FAILURE_STATES:
            if self.runs_table and self.pipeline:
                _ledger(self.runs_table, self.aws_conn_id).record_duration(
                    self.pipeline, context["dag_run"].run_id
                )
            error = execution.get("error") or status
            cause = execution.get("cause") or "(no cause reported)"
            raise StateMachineExecutionFailed(
                f"State machine execution {self.execution_arn} ended {status}: {error}: {cause}"
            )
        return super().poke(context)
