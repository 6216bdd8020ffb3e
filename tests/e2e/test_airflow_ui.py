"""The local Airflow UI path: all Airflow components on a free localhost port, a run triggered
through the REST API with params, followed to success, and every process stopped afterwards."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import date

import pytest

from local import sample_data
from local.airflow_server import running
from tests.stacks import started_stack

# cost: one run, plus starting Airflow standalone
pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]
DAG_ID = "lakehouse_raw_to_curated"
MANUAL_DAY = date(2026, 11, 5)


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v2{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_for_final_state(base: str, run_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = call(base, "GET", f"/dags/{DAG_ID}/dagRuns/{urllib.request.quote(run_id)}")
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(3)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of its own: the scheduled run's day depends on today's date and must not
    collide with the days other tests build."""
    with started_stack(tmp_path_factory.mktemp("ui-stack")) as stack:
        yield stack


def test_trigger_through_the_rest_api_with_params(own_stack):
    stack, provisioned, lakehouse = own_stack
    s3 = lakehouse.client("s3")
    sample_data.write_day(s3, provisioned.names.raw_bucket, MANUAL_DAY, events=500, seed=5)

    with running(stack) as base:
        dag = call(base, "GET", f"/dags/{DAG_ID}")
        assert dag["is_paused"] is True  # new DAGs start paused, as on MWAA
        # Unpausing lets the scheduler create the run of the latest closed interval: give it
        # its day of data too, so both runs must succeed.
        scheduled_day = date.fromisoformat(dag["next_dagrun_data_interval_start"][:10])
        sample_data.write_day(s3, provisioned.names.raw_bucket, scheduled_day, events=500, seed=6)
        call(base, "PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
        triggered = call(
            base,
            "POST",
            f"/dags/{DAG_ID}/dagRuns",
            {
                "logical_date": None,
                "conf": {
                    "interval_start": MANUAL_DAY.isoformat(),
                    "interval_end": "2026-11-06",
                    "full_refresh": False,
                },
            },
        )
        manual = wait_for_final_state(base, triggered["dag_run_id"])
        runs = call(base, "GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]

    assert manual["state"] == "success", f"see {stack.dir / 'airflow-server.log'}"
    assert manual["conf"]["interval_start"] == "2026-11-05"
    record = lakehouse.run(triggered["dag_run_id"])
    assert record["status"] == "SUCCEEDED"
    assert (record["interval_start"], record["interval_end"]) == ("2026-11-05", "2026-11-06")
    assert {r["run_type"] for r in runs} >= {"manual"}

    # every process was stopped: the API port no longer answers
    port = base.rsplit(":", 1)[1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3)
