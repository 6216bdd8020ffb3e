"""Runs our real Lambda handler code for an Invoke call, in its own process.

moto's Lambda needs Docker to run code and only echoes without it, so the emulator routes the
Invoke API here. Each invocation gets a fresh interpreter (the Lambda side's virtualenv), the
function's own environment variables as stored in the control plane, its own /tmp, and the
function's timeout; errors come back in the Lambda service's shapes, so Step Functions' Retry
and Catch see what they would see on AWS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_CODE_DIR = REPO_ROOT / "lambdas"


@dataclass
class InvokeResult:
    payload: bytes
    function_error: str | None  # "Unhandled" like the Lambda service, or None
    duration_s: float


def lambda_python() -> str:
    return os.environ.get("LAMBDA_PYTHON") or sys.executable


def invoke(
    function: dict, event: bytes, endpoint_url: str, state_dir: Path, region: str
) -> InvokeResult:
    """Run `function` (a GetFunctionConfiguration answer) on `event` and return its answer."""
    name = function["FunctionName"]
    timeout_s = int(function.get("Timeout") or 3)
    tmp_dir = state_dir / "lambda-tmp" / name
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(LAMBDA_CODE_DIR), str(REPO_ROOT)]),
        "LAMBDA_TASK_ROOT": str(LAMBDA_CODE_DIR),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.get("MemorySize") or 128),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": endpoint_url,
        "LOCAL_LAMBDA_TIMEOUT": str(timeout_s),
        # Lambda gives each function a private, writable /tmp and a read-only code directory.
        "TMPDIR": str(tmp_dir),
        "HOME": str(tmp_dir),
        **(function.get("Environment") or {}).get("Variables", {}),
    }
    handler = function["Handler"]
    started = time.monotonic()
    with (
        tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=".json", delete=False) as result_file,
        open(log_path, "ab") as log,
    ):
        result_path = Path(result_file.name)
        log.write(f"START {name} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [lambda_python(), "-m", "local.lambda_bootstrap", handler, str(result_path)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_dir,
            start_new_session=True,
        )
        try:
            proc.communicate(event, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            duration = time.monotonic() - started
            log.write(f"END {name} timed out after {timeout_s}s\n".encode())
            message = f"Task timed out after {timeout_s:.2f} seconds"
            error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            result_path.unlink(missing_ok=True)
            return InvokeResult(json.dumps(error).encode(), "Unhandled", duration)
        duration = time.monotonic() - started
        log.write(f"END {name} exit={proc.returncode} {duration:.2f}s\n".encode())

    payload = result_path.read_bytes() if result_path.exists() else b""
    result_path.unlink(missing_ok=True)
    if proc.returncode == 0:
        return InvokeResult(payload, None, duration)
    if not payload:  # the process died before it could report (e.g. killed, out of memory)
        error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: local Error: Runtime exited with status {proc.returncode}",
        }
        payload = json.dumps(error).encode()
    return InvokeResult(payload, "Unhandled", duration)
