"""The local stack as a tool people keep running: its state survives a stop and a kill -9 (the
journal), one emulator per folder on the port it recorded, clear one-line errors, and one stop
command that finds every process by its recorded PID, even after the folder was deleted."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import boto3.s3.transfer
import pytest

from local import state
from local.journal import MAGIC
from local.stack import LocalStack, StackError
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

BIG = bytes(range(256)) * (6 * 4096)  # 6 MiB: two parts of a multipart upload


def _cli(directory: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _emulator_pid(stack: LocalStack) -> int:
    return json.loads(stack.endpoint_file.read_text())["pid"]


def _wait_gone(pids, timeout_s: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [pid for pid in pids if state.start_time(pid) is not None]
        if not left:
            return []
        time.sleep(0.1)
    return left


def _snapshot(lakehouse) -> dict:
    """What a restart must give back: every object with its bytes' digest, every ledger item."""
    s3 = lakehouse.client("s3")
    objects = {}
    for bucket in ("raw_bucket", "curated_bucket"):
        name = lakehouse.resources["names"][bucket]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=name, Key=item["Key"])["Body"].read()
                objects[f"{name}/{item['Key']}"] = hashlib.sha256(body).hexdigest()
    ddb = lakehouse.client("dynamodb")
    items = ddb.scan(TableName=lakehouse.resources["names"]["runs_table"])["Items"]
    return {"objects": objects, "ledger": sorted(json.dumps(i, sort_keys=True) for i in items)}


@pytest.fixture
def stack(tmp_path):
    stack = LocalStack(tmp_path / "state")
    yield stack
    stack.down()


def test_state_survives_a_stop_and_a_kill_minus_9_on_the_same_port(stack):
    from local.lakehouse import Lakehouse

    provisioned = stack.up()
    lakehouse = Lakehouse(stack)
    s3, raw = lakehouse.client("s3"), provisioned.names.raw_bucket
    s3.put_object(Bucket=raw, Key="events/dt=2026-01-01/a.jsonl", Body=b'{"a": 1}\n')
    s3.put_object(Bucket=raw, Key="events/dt=2026-01-01/gone.jsonl", Body=b"x\n")
    s3.put_object(Bucket=raw, Key="events/dt=2026-01-01/we ird+%2F=é.jsonl", Body=b"{}\n")
    s3.delete_objects(Bucket=raw, Delete={"Objects": [{"Key": "events/dt=2026-01-01/gone.jsonl"}]})
    config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 2**20)
    s3.upload_fileobj(io.BytesIO(BIG), raw, "events/dt=2026-01-02/big.jsonl", Config=config)
    with ThreadPoolExecutor(8) as pool:  # the server is threaded: writes at once, all kept
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=raw, Key=f"users/dt=2026-01-01/{n}", Body=b"u"),
                range(24),
            )
        )
    ddb = lakehouse.client("dynamodb")
    for n in range(3):
        ddb.put_item(
            TableName=provisioned.names.runs_table,
            Item={"pipeline": {"S": "p"}, "run_id": {"S": f"r{n}"}, "status": {"S": "RUNNING"}},
        )
    ddb.update_item(  # succeeds only after the put: the journal keeps the order
        TableName=provisioned.names.runs_table,
        Key={"pipeline": {"S": "p"}, "run_id": {"S": "r1"}},
        UpdateExpression="SET #s = :done",
        ConditionExpression="#s = :running",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "SUCCEEDED"}, ":running": {"S": "RUNNING"}},
    )
    before = _snapshot(lakehouse)
    assert len(before["ledger"]) == 3 and len(before["objects"]) == 27
    assert s3.get_object(Bucket=raw, Key="events/dt=2026-01-02/big.jsonl")["Body"].read() == BIG
    url = stack.endpoint_url()

    stack.down()
    assert stack.endpoint_url() is None
    stack.up()
    assert stack.endpoint_url() == url  # the recorded port: clients keep their address
    assert _snapshot(Lakehouse(stack)) == before

    pid = _emulator_pid(stack)
    os.kill(pid, signal.SIGKILL)  # no clean shutdown: a crash, a reboot
    assert _wait_gone([pid]) == []
    # A record the crash cut short (written, never answered): dropped with a log line.
    with open(stack.dir / state.JOURNAL_FILE, "ab") as journal:
        journal.write(MAGIC + b"\x00\x00\x10\x00garbage")
    stack.up()
    assert stack.endpoint_url() == url
    assert _snapshot(Lakehouse(stack)) == before
    assert "dropped a torn last record" in (stack.dir / "emulator.log").read_text()


def test_commands_started_at_once_share_one_emulator(tmp_path):
    directory = tmp_path / "state"
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    commands = [
        subprocess.Popen(
            [sys.executable, "-m", "local.stack", "up"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = [c.communicate(timeout=120) for c in commands]
        assert [c.returncode for c in commands] == [0, 0], outputs
        urls = {out.split(" at ")[1].split()[0] for out, _ in outputs}
        assert len(urls) == 1
        stack = LocalStack(directory)
        assert [p.role for p in stack.registry.processes()] == ["emulator"]
    finally:
        LocalStack(directory).down()


def test_a_missing_airflow_virtualenv_is_a_one_line_error_before_anything_starts(tmp_path):
    directory = tmp_path / "state"
    env = {
        **os.environ,
        "LAKEHOUSE_STATE_DIR": str(directory),
        "PYTHONPATH": str(REPO_ROOT),
        "AIRFLOW_VENV": str(tmp_path / "no-venv"),
    }
    for module in ("local.demo", "local.airflow_server", "local.airflow"):
        args = [sys.executable, "-m", module] + (
            ["dags", "list"] if module == "local.airflow" else []
        )
        result = subprocess.run(
            args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (module, result.stderr)
        assert result.stderr.count("\n") == 1 and "make install" in result.stderr, result.stderr
    assert not (directory / state.ENDPOINT_FILE).exists()  # no stack was started for nothing


def test_a_busy_recorded_port_is_a_one_line_error(stack):
    stack.up()
    port = stack.recorded_port()
    stack.down()
    with _listening(port):
        started = time.monotonic()
        result = _cli(stack.dir, "local.stack", "up")
    assert result.returncode == 2
    assert time.monotonic() - started < 30  # seconds, not a start timeout (2 busy cores)
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    with pytest.raises(StackError, match=f"port {port}"):
        with _listening(port):
            stack.start()


@contextmanager
def _listening(port: int) -> Iterator[socket.socket]:
    """Another program listening on the port. Bound as servers bind (SO_REUSEADDR): the stopped
    emulator's closed connections may hold the port in TIME_WAIT for a minute, which only a bind
    without the option is refused for."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        yield taken


def test_a_second_emulator_on_the_same_folder_is_refused(stack):
    stack.up()
    result = _cli(stack.dir, "local.emulator", "--state-dir", str(stack.dir), timeout=30)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"emulator: another emulator already serves {stack.dir}"
    ]
    assert stack.endpoint_url()  # the first one still serves


def test_a_deleted_folder_then_one_stop_command_leaves_no_process_of_ours(stack):
    import shutil

    from local.lakehouse import Lakehouse

    provisioned = stack.up()
    lam = Lakehouse(stack).client("lambda")
    lam.create_function(
        FunctionName="fixture-echo",
        Runtime="python3.12",
        Role=f"arn:aws:iam::123456789012:role/{provisioned.names.dbt_executor_role}",
        Handler="tests.lambda_fixtures.handlers.echo",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Timeout=30,
    )
    assert "FunctionError" not in lam.invoke(FunctionName="fixture-echo", Payload=b"{}")
    recorded = {p.pid: p.role for p in stack.registry.processes()}
    assert sorted(recorded.values()) == ["emulator", "lambda"]
    registry_dir = stack.registry.dir
    assert not registry_dir.is_relative_to(stack.dir)

    shutil.rmtree(stack.dir)
    # A new emulator cannot serve the folder while the old one, whose folder it was, runs.
    stack.dir.mkdir()
    result = _cli(stack.dir, "local.emulator", "--state-dir", str(stack.dir), timeout=30)
    assert result.returncode == 3 and "still serves" in result.stderr
    # What a newer emulator of the recreated folder would have written: the old one, stopping,
    # must leave it alone (it removes an endpoint file only if the file names it).
    newer = json.dumps({"endpoint_url": "http://127.0.0.1:1", "port": 1, "pid": os.getpid()})
    stack.endpoint_file.write_text(newer)

    result = _cli(stack.dir, "local.stack", "down")
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert _wait_gone(recorded) == []
    assert not registry_dir.exists() or not list(registry_dir.glob("*.json"))
    assert stack.endpoint_file.read_text() == newer
    shutil.rmtree(stack.dir)

    # The folder starts afresh.
    stack.up()
    assert stack.endpoint_url() and [p.role for p in stack.registry.processes()] == ["emulator"]


def test_reset_asks_first_then_stops_everything_and_deletes_the_folder(stack):
    stack.up()
    pid = _emulator_pid(stack)
    refused = _cli(stack.dir, "local.stack", "reset")  # no terminal to ask on: nothing done
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert (stack.dir / state.JOURNAL_FILE).exists() and stack.endpoint_url()

    result = _cli(stack.dir, "local.stack", "reset", "--yes")
    assert result.returncode == 0, result.stderr
    assert not stack.dir.exists()
    assert _wait_gone([pid]) == []
