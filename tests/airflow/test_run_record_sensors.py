"""The sensors that keep the run ledger up to date: the crawler stage is written when the crawl
ends either way (with the crawler's error), and wait_for_transform logs how to open the record.
The Glue/Step Functions answers are fed in; the ledger writes are captured."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.unit]
RUN_ID = "scheduled__2026-11-21T06:00:00+00:00"


class Recorder:
    def __init__(self):
        self.stages, self.durations = [], []

    def record_stage(self, pipeline, run_id, stage, record):
        self.stages.append((pipeline, run_id, stage, record))

    def record_duration(self, pipeline, run_id):
        self.durations.append((pipeline, run_id))


class DagRun:
    run_id = RUN_ID


def crawler_sensor(monkeypatch, crawler: dict):
    from lakehouse import sensors

    recorder = Recorder()
    monkeypatch.setattr(sensors, "_ledger", lambda table, conn: recorder)
    sensor = sensors.CrawlerStageSensor(
        task_id="wait_for_raw_crawler", crawler_name="raw", runs_table="runs", pipeline="p"
    )
    hook = type("Hook", (), {"get_crawler": lambda self, name: crawler})()
    monkeypatch.setattr(type(sensor), "hook", property(lambda self: hook))
    return sensor, recorder


def test_crawler_stage_recorded_when_the_crawl_succeeds(monkeypatch):
    started = datetime.now(UTC) - timedelta(seconds=30)
    sensor, recorder = crawler_sensor(
        monkeypatch, {"State": "READY", "LastCrawl": {"Status": "SUCCEEDED", "StartTime": started}}
    )
    assert sensor.poke({"dag_run": DagRun()}) is True
    [(pipeline, run_id, stage, record)] = recorder.stages
    assert (pipeline, run_id, stage) == ("p", RUN_ID, "crawler")
    assert record["status"] == "SUCCEEDED" and record["crawler"] == "raw"
    assert record["started_at"] == started.isoformat()
    assert record["duration_s"] >= 30 and record["ended_at"] > record["started_at"]


def test_crawler_stage_recorded_with_the_error_when_the_crawl_fails(monkeypatch):
    from lakehouse.sensors import CrawlFailed

    crawl = {"Status": "FAILED", "StartTime": datetime.now(UTC), "ErrorMessage": "access denied"}
    sensor, recorder = crawler_sensor(monkeypatch, {"State": "READY", "LastCrawl": crawl})
    with pytest.raises(CrawlFailed, match="Crawler raw ended FAILED: access denied"):
        sensor.poke({"dag_run": DagRun()})
    [(_, _, _, record)] = recorder.stages
    assert record["status"] == "FAILED" and record["error"] == "access denied"


def test_a_running_crawl_records_nothing_yet(monkeypatch):
    sensor, recorder = crawler_sensor(monkeypatch, {"State": "RUNNING"})
    assert sensor.poke({"dag_run": DagRun()}) is False
    assert recorder.stages == []


def test_wait_for_transform_records_the_duration_when_the_execution_failed(monkeypatch):
    from lakehouse import sensors

    recorder = Recorder()
    monkeypatch.setattr(sensors, "_ledger", lambda table, conn: recorder)
    sensor = sensors.StateMachineExecutionSensor(
        task_id="wait_for_transform", execution_arn="arn:x", runs_table="runs", pipeline="p"
    )
    failed = {"status": "FAILED", "error": "DbtRunError", "cause": "fct_events: boom"}
    hook = type("Hook", (), {"describe_execution": lambda self, arn: failed})()
    monkeypatch.setattr(type(sensor), "hook", property(lambda self: hook))
    with pytest.raises(sensors.StateMachineExecutionFailed, match="DbtRunError: fct_events: boom"):
        sensor.poke({"dag_run": DagRun()})
    assert recorder.durations == [("p", RUN_ID)]


def test_console_links_only_when_the_connection_is_aws():
    from lakehouse.ledger import console_region

    def hook(endpoint):
        config = type("Config", (), {"endpoint_url": endpoint})()
        return type("Hook", (), {"conn_config": config, "conn_region_name": "eu-west-1"})()

    assert console_region(hook(None)) == "eu-west-1"
    assert console_region(hook("http://127.0.0.1:5000")) is None


# The deferrable waits: a check in the worker, a deferral on the provider's trigger while the
# thing runs, one more check on resume (again a deferral when the trigger's polls ran out).


class StepFunctions:
    """describe_execution answers in turn (the last one repeats); the definition's timeout."""

    def __init__(self, *answers, timeout_s=None):
        self.answers = list(answers)
        definition = {"StartAt": "x", "States": {}}
        if timeout_s:
            definition["TimeoutSeconds"] = timeout_s
        self.conn = type(
            "Client",
            (),
            {"describe_state_machine_for_execution": lambda _, **kw: {
                "definition": json.dumps(definition)}},
        )()  # fmt: skip

    def describe_execution(self, arn):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class TI:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


def transform_wait(monkeypatch, hook, **kwargs):
    from lakehouse import sensors

    recorder = Recorder()
    monkeypatch.setattr(sensors, "_ledger", lambda table, conn: recorder)
    sensor = sensors.StateMachineExecutionSensor(
        task_id="wait_for_transform", execution_arn="arn:x", poke_interval=5, **kwargs
    )
    monkeypatch.setattr(type(sensor), "hook", property(lambda self: hook))
    return sensor, recorder


RUNNING = {"status": "RUNNING"}
SUCCEEDED = {"status": "SUCCEEDED", "output": '{"ok": true}'}
FAILED = {"status": "FAILED", "error": "DbtRunError", "cause": "fct_events: boom"}


def test_wait_for_transform_defers_with_polls_that_cover_the_state_machine_timeout(monkeypatch):
    from airflow.providers.common.compat.sdk import TaskDeferred
    from lakehouse.triggers import ExecutionEndTrigger

    monkeypatch.delenv("LAKEHOUSE_WAIT_MAX_ATTEMPTS", raising=False)
    sensor, _ = transform_wait(monkeypatch, StepFunctions(RUNNING, timeout_s=3 * 3600))
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"dag_run": DagRun(), "ti": TI()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ExecutionEndTrigger)
    assert deferred.value.method_name == "resume"
    assert trigger.waiter_delay == 5
    assert trigger.waiter_delay * trigger.attempts > 3 * 3600  # not the provider's 30 minutes
    assert deferred.value.timeout is None  # the execution's end ends the wait, nothing else


def test_wait_for_transform_without_a_state_machine_timeout_waits_a_day_per_deferral(
    monkeypatch,
):
    from airflow.providers.common.compat.sdk import TaskDeferred

    monkeypatch.delenv("LAKEHOUSE_WAIT_MAX_ATTEMPTS", raising=False)
    sensor, _ = transform_wait(monkeypatch, StepFunctions(RUNNING))
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"dag_run": DagRun(), "ti": TI()})
    assert deferred.value.trigger.attempts * 5 >= 24 * 3600


def test_wait_for_transform_defers_again_when_the_polls_ran_out(monkeypatch):
    from airflow.providers.common.compat.sdk import TaskDeferred

    monkeypatch.setenv("LAKEHOUSE_WAIT_MAX_ATTEMPTS", "2")
    sensor, recorder = transform_wait(monkeypatch, StepFunctions(RUNNING))
    ran_out = {"status": "error", "message": "Waiter error: max attempts reached"}
    with pytest.raises(TaskDeferred) as deferred:
        sensor.resume({"dag_run": DagRun(), "ti": TI()}, event=ran_out)
    assert deferred.value.trigger.attempts == 2
    assert recorder.durations == []  # nothing failed


def test_wait_for_transform_resumes_and_fails_once_with_error_and_cause(monkeypatch):
    from lakehouse.sensors import StateMachineExecutionFailed

    sensor, recorder = transform_wait(
        monkeypatch, StepFunctions(FAILED), runs_table="runs", pipeline="p"
    )
    event = {"status": "error", "message": "Step function failed", "execution_arn": "arn:x"}
    with pytest.raises(StateMachineExecutionFailed, match="ended FAILED: DbtRunError: fct_events"):
        sensor.resume({"dag_run": DagRun(), "ti": TI()}, event=event)
    assert recorder.durations == [("p", RUN_ID)]


def test_wait_for_transform_resumes_and_succeeds_with_the_output(monkeypatch):
    sensor, recorder = transform_wait(monkeypatch, StepFunctions(SUCCEEDED))
    ti = TI()
    sensor.resume({"dag_run": DagRun(), "ti": ti}, event={"status": "success"})
    assert ti.pushed == {"output": {"ok": True}} and recorder.durations == []


def test_wait_for_transform_logs_the_run_record_line_once_before_waiting(monkeypatch, caplog):
    from airflow.providers.common.compat.sdk import TaskDeferred
    from lakehouse import summary

    lines = []
    monkeypatch.setattr(summary, "open_record_line", lambda *args: lines.append(args) or "X")
    monkeypatch.setattr("lakehouse.ledger.console_region", lambda hook: None)
    sensor, _ = transform_wait(monkeypatch, StepFunctions(RUNNING), runs_table="runs", pipeline="p")
    with pytest.raises(TaskDeferred):
        sensor.execute({"dag_run": DagRun(), "ti": TI()})
    with pytest.raises(TaskDeferred):
        sensor.resume({"dag_run": DagRun(), "ti": TI()}, event={"status": "error"})
    assert len(lines) == 1 and lines[0][:3] == ("p", RUN_ID, "runs")


def test_the_execution_trigger_ends_on_timed_out_too_and_survives_serialization():
    from lakehouse.triggers import ExecutionEndTrigger

    trigger = ExecutionEndTrigger(
        execution_arn="arn:x", waiter_delay=5, waiter_max_attempts=9, aws_conn_id="aws_default"
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "lakehouse.triggers.ExecutionEndTrigger"
    revived = ExecutionEndTrigger(**kwargs)  # what the triggerer does
    acceptors = {a["expected"]: a["state"] for a in revived.waiter_config_overrides["acceptors"]}
    assert acceptors == {
        "SUCCEEDED": "success", "FAILED": "failure", "TIMED_OUT": "failure", "ABORTED": "failure"
    }  # fmt: skip
    assert (revived.waiter_delay, revived.attempts) == (5, 9)


def test_wait_for_raw_crawler_defers_on_the_glue_crawler_trigger(monkeypatch):
    from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger
    from airflow.providers.common.compat.sdk import TaskDeferred

    monkeypatch.delenv("LAKEHOUSE_WAIT_MAX_ATTEMPTS", raising=False)
    sensor, recorder = crawler_sensor(monkeypatch, {"State": "RUNNING", "CrawlElapsedTime": 5})
    sensor.poke_interval, sensor.timeout = 5, 3600
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"dag_run": DagRun()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, GlueCrawlerCompleteTrigger) and trigger.waiter_delay == 5
    assert trigger.waiter_delay * trigger.attempts >= 3600
    assert recorder.stages == []


def test_wait_for_raw_crawler_resumes_records_and_fails_with_glue_s_error(monkeypatch):
    from lakehouse.sensors import CrawlFailed

    crawl = {
        "Status": "FAILED", "StartTime": datetime.now(UTC), "ErrorMessage": "access denied",
        "LogGroup": "/aws-glue/crawlers", "LogStream": "raw",
    }  # fmt: skip
    sensor, recorder = crawler_sensor(monkeypatch, {"State": "READY", "LastCrawl": crawl})
    with pytest.raises(
        CrawlFailed, match=r"access denied \(CloudWatch log: /aws-glue/crawlers/raw"
    ):
        sensor.resume({"dag_run": DagRun()}, event={"status": "error", "message": "failed"})
    [(_, _, stage, record)] = recorder.stages
    assert stage == "crawler" and record["error"] == "access denied"


def test_wait_for_raw_crawler_fails_when_the_crawl_outlasts_its_timeout(monkeypatch):
    from airflow.providers.common.compat.sdk import AirflowSensorTimeout

    sensor, _ = crawler_sensor(monkeypatch, {"State": "RUNNING", "CrawlElapsedTime": 7_200_000})
    sensor.timeout = 3600
    with pytest.raises(AirflowSensorTimeout, match="has run 7200 s"):
        sensor.resume({"dag_run": DagRun()}, event={"status": "error"})
