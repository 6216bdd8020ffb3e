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
