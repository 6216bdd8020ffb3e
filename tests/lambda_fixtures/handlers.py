"""Tiny handlers that exercise the local Lambda runtime itself (not product code)."""

import os
import time


def echo(event, context):
    started = time.time()
    time.sleep(float(event.get("hold_s", 0)))
    return {
        "started": started,
        "ended": time.time(),
        "event": event,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "tmp": os.environ["TMPDIR"],
        "custom": os.environ.get("CUSTOM_SETTING"),
        "pid": os.getpid(),
    }


def boom(event, context):
    raise ValueError(f"bad input: {event.get('value')}")


def sleepy(event, context):
    time.sleep(float(event.get("seconds", 30)))
    return {"slept": True}


def ingest_context(request_id: str):
    """The Lambda context the ingest handler gets when a test calls it in process: the
    function's contract memory and the full 15 minutes left."""
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name="ingest",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ingest",
        aws_request_id=request_id,
        get_remaining_time_in_millis=lambda: 900_000,
    )
