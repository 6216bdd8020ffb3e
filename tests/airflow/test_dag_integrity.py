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
