"""The code under test, in the interpreter it is given (the Lambda image's virtualenv): dbt with
dbt-athena, and the functions' handlers, driven by the harness (tests/athena_contract/runs.py)
one request at a time.

Run as a script, never imported by the harness: it imports only the standard library, the
packages of the interpreter it runs in and the functions' code (lambdas/), so anything the image
lacks fails here. Requests are JSON lines on stdin; each answer is one JSON line on the file
descriptor that was stdout when it started (dbt and the handlers' logs go to stderr)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def dbt(request: dict) -> dict:
    """One dbt invocation, as the dbt-executor makes it, with the runtime's per-node count."""
    from dbt.cli.main import dbtRunner
    from dbt_runtime import athena_scans

    athena_scans.install()
    athena_scans.take()
    project, work = request["project"], Path(request["work"])
    result = dbtRunner().invoke(
        [
            *request["args"],
            "--project-dir", project,
            "--profiles-dir", project,
            "--target", "athena",
            "--target-path", str(work / "target"),
            "--log-path", str(work / "logs"),
            "--vars", json.dumps(request["vars"]),
        ]
    )  # fmt: skip
    return {"success": bool(result.success), "scanned": athena_scans.take()}


def handler(request: dict) -> dict:
    """One invocation of a function's real handler, with a Lambda-like context."""
    from importlib import import_module

    module = import_module(f"dbt_runtime.handlers.{request['function']}")
    context = SimpleNamespace(
        function_name=request["function"],
        memory_limit_in_mb=3008,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{request['function']}",
        aws_request_id="contract",
        get_remaining_time_in_millis=lambda: 900_000,
    )
    try:
        return {"result": module.handler(request["event"], context)}
    except Exception as exc:  # the function's error, as Lambda would report it
        traceback.print_exc()
        return {"error": type(exc).__name__, "message": str(exc)}


def environment(request: dict) -> dict:
    """Where this interpreter's packages come from, and which of the others' it can import."""
    from importlib.util import find_spec

    return {
        "prefix": sys.prefix,
        "importable": [m for m in request["modules"] if find_spec(m) is not None],
    }


def main() -> int:
    sys.path.insert(0, str(LAMBDAS))
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        request = json.loads(line)
        serve = {"dbt": dbt, "handler": handler, "environment": environment}[request["op"]]
        answer = serve(request)
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
