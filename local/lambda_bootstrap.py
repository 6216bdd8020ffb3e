"""The runtime side of a local Lambda invocation: what Lambda's Python runtime does for us.

Usage (by lambda_runner only): python -m local.lambda_bootstrap module.function RESULT_PATH
The event arrives on stdin; the handler's return value, or the error in the shape the Lambda
runtime reports (errorMessage, errorType, stackTrace), is written to RESULT_PATH.
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

    def __init__(self) -> None:
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
        self._deadline = time.monotonic() + float(os.environ.get("LOCAL_LAMBDA_TIMEOUT", "900"))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    handler_path, result_path = sys.argv[1], sys.argv[2]
    module_name, _, function_name = handler_path.rpartition(".")
    event = json.loads(sys.stdin.buffer.read() or b"{}")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result = handler(event, LambdaContext())
        body = json.dumps(result, default=str)
        code = 0
    except Exception as exc:  # noqa: BLE001 - reported to the caller exactly like Lambda does
        traceback.print_exc()
        body = json.dumps(
            {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
        )
        code = 1
    with open(result_path, "w", encoding="utf-8") as fh:
        fh.write(body)
    return code


if __name__ == "__main__":
    sys.exit(main())
