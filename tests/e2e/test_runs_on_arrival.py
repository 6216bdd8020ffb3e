"""Runs on arrival, end to end: with the setting on, raw files of a past day landing in the raw
bucket start lakehouse_raw_to_curated_on_arrival through S3's notification, the SQS queue and
the DAG's asset watcher (the triggerer of `airflow standalone`), and its one run rebuilds
exactly that day. The files land while the DAG is still paused: their notifications wait in the
queue (with S3's test event from the setup) and make one run once it is unpaused."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from local import sample_data
from local.airflow_server import running
from tests.e2e.test_airflow_ui import PASSWORD, call, login
from tests.stacks import started_stack

# cost: one run, plus starting Airflow standalone
pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]
DAG_ID = "lakehouse_raw_to_curated_on_arrival"
LATE_DAY = date(2026, 10, 7)


@pytest.fixture(scope="module")
def arrival_stack(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("arrival-stack"), start_on_arrival=True) as stack:
        yield stack


def dag_runs(base: str, token: str) -> list[dict]:
    return call(base, token, "GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]


def test_files_of_a_late_day_start_one_run_of_that_day(arrival_stack):
    stack, provisioned, lakehouse = arrival_stack
    assert provisioned.raw_arrivals_queue_url
    written = sample_data.write_day(
        lakehouse.client("s3"), provisioned.names.raw_bucket, LATE_DAY, events=300, seed=19
    )
    assert len(written.files) > 1  # several files of one day, one run

    with running(stack, passwords={"admin": PASSWORD}) as base:
        token = login(base)
        dag = call(base, token, "GET", f"/dags/{DAG_ID}")
        assert dag["is_paused"] is True and dag["next_dagrun_data_interval_start"] is None
        call(base, token, "PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            runs = dag_runs(base, token)
            if runs and all(r["state"] in ("success", "failed") for r in runs):
                break
            time.sleep(3)
        else:
            raise TimeoutError(
                f"no finished on-arrival run: see {stack.dir / 'airflow-server.log'}"
            )
        time.sleep(10)  # a second run would be queued by now: there must be none
        runs = dag_runs(base, token)

    assert len(runs) == 1, runs
    [run] = runs
    assert run["state"] == "success", f"see {stack.dir / 'airflow-server.log'}"
    assert run["run_type"] == "asset_triggered" and run["logical_date"] is None
    record = lakehouse.run(run["dag_run_id"])
    assert record["status"] == "SUCCEEDED"
    assert (record["interval_start"], record["interval_end"]) == (
        LATE_DAY.isoformat(),
        (LATE_DAY + timedelta(days=1)).isoformat(),
    )
    assert record["run_type"] == "asset_triggered"
    # The watcher deleted what it took: nothing waits in the queue or went to the DLQ.
    sqs = lakehouse.client("sqs")
    for queue in (provisioned.names.raw_arrivals_queue, provisioned.names.raw_arrivals_dlq):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert set(attributes.values()) == {"0"}, (queue, attributes)
