"""The sensors that keep the run ledger up to date: the crawler stage is written when the crawl
ends either way (with the crawler's error), and wait_for_transform logs how to open the record.
The Glue/Step Functions answers are fed in; the ledger writes are captured."""

from __future__ import annotations

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
