"""Sensors that wait like the Amazon provider's and fail with what went wrong."""

from __future__ import annotations

from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class StateMachineExecutionFailed(AirflowException):
    """The Step Functions execution ended in FAILED, TIMED_OUT or ABORTED."""


class StateMachineExecutionSensor(StepFunctionExecutionSensor):
    """StepFunctionExecutionSensor whose failure carries the execution's error and cause.

    The provider's sensor reports only the (empty) output of a failed execution; operators
    need the error name and the cause (e.g. dbt's message) in the task log and the exception.
    """

    def poke(self, context) -> bool:
        execution = self.hook.describe_execution(self.execution_arn)
        status = execution["status"]
        if status in self.FAILURE_STATES:
            error = execution.get("error") or status
            cause = execution.get("cause") or "(no cause reported)"
            raise StateMachineExecutionFailed(
                f"State machine execution {self.execution_arn} ended {status}: {error}: {cause}"
            )
        return super().poke(context)


class CrawlFailed(AirflowFailException):
    """The crawl ended FAILED or CANCELLED. Poking again reads the same crawl, so the sensor
    fails without retries; rerunning starts a new crawl (start_raw_crawler)."""


class CrawlerSensor(GlueCrawlerSensor):
    """GlueCrawlerSensor whose failure carries the crawl's error message and where its log is.

    The provider's sensor fails with only "Status: FAILED"; the run ledger and the alert need
    Glue's reason (LastCrawl.ErrorMessage).
    """

    def poke(self, context) -> bool:
        crawler = self.hook.get_crawler(self.crawler_name)
        if crawler["State"] != "READY":
            return False
        last = crawler.get("LastCrawl") or {}
        status = last.get("Status")
        if status == self.success_statuses:
            self.log.info("Crawler %s: last crawl %s", self.crawler_name, status)
            return True
        where = "/".join(p for p in (last.get("LogGroup"), last.get("LogStream")) if p)
        raise CrawlFailed(
            f"Crawler {self.crawler_name}: last crawl ended {status}: "
            f"{last.get('ErrorMessage') or '(no error message)'}"
            + (f" (CloudWatch log: {where})" if where else "")
        )
