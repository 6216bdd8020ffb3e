"""Runs our real Lambda handler code for an Invoke call, in execution environments of its own.

moto's Lambda needs Docker to run code and only echoes without it, so the emulator routes the
Invoke API here. Like the Lambda service, an invocation runs in an execution environment: a
process of the Lambda side's virtualenv with the function's own environment variables as stored
in the control plane and its own /tmp, which imports the handler once (cold start) and is then
reused for later invocations while warm. An environment that times out or crashes is discarded;
a changed configuration gets new environments. Errors come back in the Lambda service's shapes,
so Step Functions' Retry and Catch see what they would see on AWS.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from local import state
from local.aws import CREDENTIALS_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_CODE_DIR = REPO_ROOT / "lambdas"


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None  # "Unhandled" like the Lambda service, or None
    duration_s: float


@dataclass
class ExecutionEnvironment:
    function_name: str
    key: str
    process: subprocess.Popen
    control: IO[str]
    tmp_dir: Path
    registry: state.Registry

    def discard(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        self.registry.remove(self.process.pid)
        self.control.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


_idle: list[ExecutionEnvironment] = []
_idle_lock = threading.Lock()


def _acquire(function_name: str, key: str) -> ExecutionEnvironment | None:
    """A warm environment of this configuration; stale ones of the function are discarded."""
    with _idle_lock:
        stale = [e for e in _idle if e.function_name == function_name and e.key != key]
        for environment in stale:
            _idle.remove(environment)
        warm = next((e for e in _idle if e.key == key and e.process.poll() is None), None)
        if warm is not None:
            _idle.remove(warm)
    for environment in stale:
        environment.discard()
    return warm


def _release(environment: ExecutionEnvironment) -> None:
    with _idle_lock:
        _idle.append(environment)


@atexit.register
def shutdown() -> None:
    """Stop every idle environment (busy ones exit when their stdin closes)."""
    with _idle_lock:
        environments, _idle[:] = list(_idle), []
    for environment in environments:
        environment.discard()


def lambda_python() -> str:
    return os.environ.get("LAMBDA_PYTHON") or sys.executable


def runtime_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """What the runtime image's processes get from the platform, Lambda or ECS alike: the code
    on the path, the region, credentials, and the emulator as every SDK's endpoint."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(LAMBDA_CODE_DIR), str(REPO_ROOT)]),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **CREDENTIALS_ENV,
        "AWS_ENDPOINT_URL": endpoint_url,
    }


def _spawn(name: str, key: str, handler: str, env: dict, state_dir: Path, log_path: Path):
    # Each execution environment has a /tmp of its own, as on Lambda: concurrent invocations
    # of one function (runs of different intervals) must not share dbt's project copy,
    # target path or DuckDB files.
    tmp_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=state_dir / "lambda-tmp"))
    env = {**env, "TMPDIR": str(tmp_dir), "HOME": str(tmp_dir)}
    read_fd, write_fd = os.pipe()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [lambda_python(), "-m", "local.lambda_bootstrap", handler, str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_dir,
            start_new_session=True,  # its own process group, so a timeout kills all of it
            pass_fds=(write_fd,),
        )
    os.close(write_fd)
    # Recorded, so that `python -m local.stack down` stops it even if the emulator is gone.
    registry = state.Registry(state_dir)
    registry.add(process.pid, "lambda")
    return ExecutionEnvironment(name, key, process, os.fdopen(read_fd, "r"), tmp_dir, registry)


def _reset_peak_memory(pid: int) -> None:
    """Reset the process's peak RSS, so it measures this invocation (Linux clear_refs "5")."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak_memory_mb(pid: int) -> int | None:
    """Peak RSS since the last reset: Lambda's "Max Memory Used" of the invocation."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return None


def _log(log_path: Path, line: str) -> None:
    with open(log_path, "ab") as log:
        log.write(line.encode() + b"\n")


def invoke(
    function: dict, event: bytes, endpoint_url: str, state_dir: Path, region: str
) -> InvokeResult:
    """Run `function` (a GetFunctionConfiguration answer) on `event` and return its answer.

    Invocations run concurrently, each in an environment of its own, like Lambda's."""
    name = function["FunctionName"]
    timeout_s = int(function.get("Timeout") or 3)
    (state_dir / "lambda-tmp").mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    env = {
        **runtime_environment(endpoint_url, region),
        "LAMBDA_TASK_ROOT": str(LAMBDA_CODE_DIR),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.get("MemorySize") or 128),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        **(function.get("Environment") or {}).get("Variables", {}),
    }
    handler = function["Handler"]
    key = hashlib.sha256(json.dumps([handler, env], sort_keys=True).encode()).hexdigest()
    started = time.monotonic()
    environment = _acquire(name, key)
    start = "warm" if environment else "cold"
    if environment is None:
        environment = _spawn(name, key, handler, env, state_dir, log_path)
    _log(log_path, f"START {name} ({start}) {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")

    with tempfile.NamedTemporaryFile(
        dir=environment.tmp_dir, suffix=".json", delete=False
    ) as result_file:
        result_path = Path(result_file.name)
    request = {"event_json": event.decode("utf-8", "replace"), "result_path": str(result_path)}
    request["timeout_s"] = timeout_s
    outcome = ""
    _reset_peak_memory(environment.process.pid)
    try:
        environment.process.stdin.write(json.dumps(request).encode() + b"\n")
        environment.process.stdin.flush()
        ready, _, _ = select.select([environment.control], [], [], timeout_s)
        outcome = environment.control.readline().strip() if ready else "timeout"
    except BrokenPipeError:
        outcome = ""  # the environment had died
    duration = time.monotonic() - started

    if outcome == "timeout":
        environment.discard()
        result_path.unlink(missing_ok=True)
        _log(log_path, f"END {name} timed out after {timeout_s}s")
        message = f"Task timed out after {timeout_s:.2f} seconds"
        error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
        return InvokeResult(json.dumps(error).encode(), "Unhandled", duration)
    if outcome not in ("ok", "error"):  # the process died before it could report
        environment.discard()
        result_path.unlink(missing_ok=True)
        code = environment.process.returncode
        _log(log_path, f"END {name} exit={code} {duration:.2f}s")
        error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: local Error: Runtime exited with status {code}",
        }
        return InvokeResult(json.dumps(error).encode(), "Unhandled", duration)

    memory = _peak_memory_mb(environment.process.pid)
    _release(environment)
    payload = result_path.read_bytes()
    result_path.unlink(missing_ok=True)
    _log(log_path, f"END {name} {outcome} {duration:.2f}s max_memory_used_mb={memory}")
    return InvokeResult(payload, None if outcome == "ok" else "Unhandled", duration)
