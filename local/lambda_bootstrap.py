"""The runtime side of local Lambda invocations: what Lambda's Python runtime does for us.

Usage (by lambda_runner only): python -m local.lambda_bootstrap module.function CONTROL_FD
One process is one execution environment: it imports the handler once (the cold start) and then
serves invocations one at a time, like a warm Lambda. Each request is a JSON line on stdin
({"event_json", "result_path", "timeout_s"}); the handler's return value, or the error
in the shape the Lambda runtime reports (errorMessage, errorType, stackTrace), is written to
result_path, then "ok" or "error" is written as a line to CONTROL_FD.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class LambdaContext:
    """The attributes of the context object that Lambda passes to a Python handler."""

    def __init__(self, timeout_s: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:123456789012:function:{self.function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException) -> str:
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    )


def main() -> int:
    handler_path, control = sys.argv[1], os.fdopen(int(sys.argv[2]), "w", buffering=1)
    module_name, _, function_name = handler_path.rpartition(".")
    handler, init_error = None, None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - Lambda reports an init error on every invoke
        traceback.print_exc()
        init_error = exc
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if init_error is not None:
                raise init_error
            event = json.loads(request["event_json"] or "{}")
            result = handler(event, LambdaContext(float(request["timeout_s"])))
            body, outcome = json.dumps(result, default=str), "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the caller exactly like Lambda does
            traceback.print_exc()
            body, outcome = _error(exc), "error"
        sys.stdout.flush()
        sys.stderr.flush()
        with open(request["result_path"], "w", encoding="utf-8") as fh:
            fh.write(body)
        control.write(outcome + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
