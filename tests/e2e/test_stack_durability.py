"""`make demo` attaches to a running stack and resets nothing; what the run left (raw files,
Iceberg marts, the run ledger) is all there after a stop and after a kill -9 of the emulator,
and the pipeline runs on top of the restored state."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from local import state
from local.lakehouse import Lakehouse
from local.stack import LocalStack
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]

DAY = "2026-11-20"


def _demo(stack: LocalStack) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(stack.dir), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "local.demo", "--day", DAY, "--events", "2000"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _facts(stack: LocalStack) -> dict:
    lakehouse = Lakehouse(stack)
    names = lakehouse.resources["names"]
    marts = {}
    for name in ("fct_events", "dim_users", "daily_metrics"):
        table = lakehouse.iceberg_table(name)
        rows = table.scan().to_arrow()
        rows = rows.sort_by([(c, "ascending") for c in rows.column_names[:2]])
        marts[name] = {
            "rows": rows.num_rows,
            "digest": hashlib.sha256(rows.to_pandas().to_csv().encode()).hexdigest(),
            "snapshots": [s.snapshot_id for s in table.snapshots()],
            "metadata": table.metadata_location,
        }
    s3 = lakehouse.client("s3")
    raw = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names["raw_bucket"])
        for o in page.get("Contents", [])
    ]
    runs = [(r["run_id"], r["status"], r.get("ended_at")) for r in lakehouse.runs()]
    return {"marts": marts, "raw": sorted(raw), "runs": runs}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = LocalStack(tmp_path_factory.mktemp("durable"))
    yield stack
    stack.down()


def test_demo_attaches_to_a_running_stack_and_resets_nothing(stack):
    provisioned = stack.up()  # another client (e.g. make airflow) started it first
    url, pid = provisioned.endpoint_url, json.loads(stack.endpoint_file.read_text())["pid"]
    s3 = Lakehouse(stack).client("s3")
    s3.put_object(Bucket=provisioned.names.raw_bucket, Key="events/dt=2026-11-01/x.jsonl", Body=b"")

    result = _demo(stack)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"emulator at {url}" in result.stdout
    assert stack.endpoint_url() == url
    assert json.loads(stack.endpoint_file.read_text())["pid"] == pid  # not restarted
    facts = _facts(stack)
    assert "events/dt=2026-11-01/x.jsonl" in facts["raw"]  # the other client's file is kept
    assert [status for _, status, _ in facts["runs"]] == ["SUCCEEDED"]
    assert facts["marts"]["fct_events"]["rows"] == 2000


def test_a_stop_and_a_kill_minus_9_lose_nothing(stack):
    before = _facts(stack)
    url = stack.endpoint_url()
    stopped = stack.down()
    assert "emulator" in {p.role for p in stopped}
    started = time.monotonic()
    stack.up()
    restart_s = time.monotonic() - started
    assert stack.endpoint_url() == url
    assert _facts(stack) == before

    pid = json.loads(stack.endpoint_file.read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    while state.start_time(pid) is not None:
        time.sleep(0.1)
    stack.up()
    assert stack.endpoint_url() == url
    assert _facts(stack) == before
    assert restart_s < 30, restart_s


def test_the_demo_day_again_on_the_restored_state(stack):
    before = _facts(stack)
    result = _demo(stack)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the day had 2 raw files already: written again" in result.stdout
    after = _facts(stack)
    # The same bytes again: the marts hold the same rows, through new Iceberg commits.
    for name in ("fct_events", "dim_users", "daily_metrics"):
        assert after["marts"][name]["digest"] == before["marts"][name]["digest"], name
        assert after["marts"][name]["metadata"] != before["marts"][name]["metadata"], name
    assert [status for _, status, _ in after["runs"]] == ["SUCCEEDED", "SUCCEEDED"]
