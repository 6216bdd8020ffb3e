"""The dbt-executor's handler as an ECS (Fargate) task: same image, same code, no 15-minute cap.

  python -m dbt_runtime.ecs_task        (the task definition's command, contracts/functions.json)

The environment is the dbt-executor's (contracts/functions.json) plus what the state machine
passes in the container override of each stage:
  STAGE_EVENT      the stage's event, exactly the Lambda's payload (JSON)
  STAGE_RESULT_S3  s3://bucket/key: where the stage's result is written
ECS's RunTask.sync answers with the task's description, not with what the container computed,
so the result goes to S3 and the state machine's next state reads it from there. On failure the
same object holds the error in the Lambda runtime's shape (errorMessage, errorType,
stackTrace) and the task exits 1: the state machine's failure path reads it as it reads a
function's error, so the run ledger keeps the same cause either way.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from pathlib import Path
from urllib.parse import urlparse

# lambdas/contracts is the repository's contracts/ (the image carries it beside dbt_runtime/).
CONTRACT = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts" / "functions.json").read_text()
)
TASK = CONTRACT["ecs_task"]
# The task runs one function's handler (the dbt-executor's).
HANDLER: str = CONTRACT["functions"][TASK["function"]]["handler"]
# Step Functions bounds the task (TimeoutSeconds of its states); the marts lease must not
# outlive it, so the task counts down from the same bound.
TIMEOUT_S: float = float(TASK["timeout_s"])
LOCK_RETRY_FIRST_S, LOCK_RETRY_MAX_S = 10.0, 60.0


class TaskContext:
    """What the handler reads of Lambda's context object, for a task."""

    def __init__(self, timeout_s: float) -> None:
        self.function_name = os.environ.get("DBT_TASK_FAMILY", "dbt-task")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(TASK["memory_mb"])
        self.invoked_function_arn = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "ecs-task")
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = ""
        self.log_stream_name = ""
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error_document(exc: BaseException) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _put(result_s3: str, document: dict) -> None:
    import boto3

    location = urlparse(result_s3)
    if location.scheme != "s3" or not location.netloc or not location.path.strip("/"):
        raise ValueError(f"STAGE_RESULT_S3 must be s3://bucket/key, got {result_s3!r}")
    boto3.client("s3").put_object(
        Bucket=location.netloc,
        Key=location.path.lstrip("/"),
        Body=json.dumps(document, default=str).encode(),
        ContentType="application/json",
    )


def run(handler, event: dict, timeout_s: float) -> dict:
    """The handler's result. A Lambda that finds the marts busy fails with MartsLockBusy and
    Step Functions retries it; a task has no such retry around it, so it waits here, within its
    own time bound."""
    from dbt_runtime.merge_lock import MartsLockBusy

    context = TaskContext(timeout_s)
    delay = LOCK_RETRY_FIRST_S
    while True:
        try:
            return handler(event, context)
        except MartsLockBusy:
            if context.get_remaining_time_in_millis() / 1000 < delay * 2:
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, LOCK_RETRY_MAX_S)
            context = TaskContext(context.get_remaining_time_in_millis() / 1000)


def main() -> int:
    result_s3 = os.environ.get("STAGE_RESULT_S3", "")
    try:
        event = json.loads(os.environ.get("STAGE_EVENT") or "")
        if not isinstance(event, dict):
            raise ValueError("STAGE_EVENT must be a JSON object (the stage's event)")
        module_name, _, function_name = HANDLER.rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
        document, code = run(handler, event, TIMEOUT_S), 0
    except Exception as exc:  # noqa: BLE001 - reported through S3 and the exit code
        traceback.print_exc()
        document, code = _error_document(exc), 1
    try:
        _put(result_s3, document)
    except Exception:  # noqa: BLE001 - the exit code still tells Step Functions it failed
        traceback.print_exc()
        return 2
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
