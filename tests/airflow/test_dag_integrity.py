"""DAG integrity in the Airflow environment: imports cleanly, offline, with the expected shape."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.unit]
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    real_connect = socket.socket.connect

    def no_network(self, address):
        raise AssertionError(f"DAG import opened a network connection to {address}")

    socket.socket.connect = no_network
    try:
        return DagBag(dag_folder=str(DAGS))
    finally:
        socket.socket.connect = real_connect


def test_dags_import_without_errors_or_network(dagbag):
    assert dagbag.import_errors == {}
    assert "lakehouse_raw_to_curated" in dagbag.dags


def test_lakehouse_dag_shape(dagbag):
    dag = dagbag.dags["lakehouse_raw_to_curated"]
    assert dag.timetable.summary == "0 6 * * *"
    assert str(dag.timetable._timezone) in ("UTC", "Timezone('UTC')")
    assert dag.catchup is False
    # Runs overlap, as many as the Airflow configuration option allows (default > 1).
    from airflow.sdk.configuration import conf

    assert dag.max_active_runs == conf.getint("lakehouse", "max_active_runs", fallback=3) > 1
    assert dag.doc_md and dag.tags
    assert set(dag.params.keys()) == {
        "interval_start",
        "interval_end",
        "lookback_days",
        "max_bad_row_share",
        "full_refresh",
        "full_refresh_models",
        "compute",
        "redrive_of",
    }
    order = [t.task_id for t in dag.topological_sort()]
    assert order == [
        "plan_run",
        "record_run_started",
        "start_raw_crawler",
        "wait_for_raw_crawler",
        "start_transform",
        "wait_for_transform",
        "summarize_run",
    ]
    for task in dag.tasks:
        assert task.owner == "data-platform"
    kinds = {t.task_id: type(t).__name__ for t in dag.tasks}
    assert kinds["start_raw_crawler"] == "GlueCrawlerRunOperator"
    assert kinds["wait_for_raw_crawler"] == "CrawlerStageSensor"  # writes the crawler stage
    assert kinds["start_transform"] == "StepFunctionStartExecutionOperator"
    assert kinds["wait_for_transform"] == "StateMachineExecutionSensor"
    start = dag.get_task("start_transform")
    assert "ti.try_number" in start.name  # a retry starts a new execution name
    assert start.max_active_tis_per_dag is None  # nothing serialises the starts
    # The operators only start: waiting is the deferrable waits' job, whatever
    # operators.default_deferrable says.
    assert start.deferrable is False
    assert dag.get_task("start_raw_crawler").deferrable is False
    assert dag.get_task("start_raw_crawler").wait_for_completion is False


def test_runs_on_arrival_are_off_unless_their_queue_is_configured(dagbag):
    from airflow.sdk.configuration import conf

    assert not conf.get("lakehouse", "raw_arrivals_queue_url", fallback="")
    assert set(dagbag.dags) == {"lakehouse_raw_to_curated"}


def test_the_on_arrival_dag_runs_the_same_tasks_on_the_queue_s_asset(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    queue = "http://127.0.0.1:4566/123456789012/lakehouse-local-raw-arrivals"
    monkeypatch.setenv("AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL", queue)
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    daily, on_arrival = (
        bag.dags["lakehouse_raw_to_curated"],
        bag.dags["lakehouse_raw_to_curated_on_arrival"],
    )
    assert daily.timetable.summary == "0 6 * * *"  # the daily DAG is unchanged
    assert type(on_arrival.timetable).__name__ == "AssetTriggeredTimetable"
    [asset] = on_arrival.timetable.asset_condition.objects
    [watcher] = asset.watchers
    kind, kwargs = watcher.trigger.serialize()
    assert kind == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert kwargs["sqs_queue"] == queue and kwargs["aws_conn_id"] == "aws_default"
    assert kwargs["delete_message_on_reception"] is True
    # One run at a time: files landing meanwhile wait for the next run, which takes them all.
    assert on_arrival.max_active_runs == 1
    order = [t.task_id for t in on_arrival.topological_sort()]
    assert order == [t.task_id for t in daily.topological_sort()]
    assert set(on_arrival.params.keys()) == set(daily.params.keys())
