"""The two sources of the project's fake HTTP API (local/fake_api.py), declared as an operator
would declare them in contracts/sources.json: events and the users export, bearer auth (each
from its environment's secret), cursor pagination."""

from __future__ import annotations


def fake_api_sources(page_size: int, max_attempts: int) -> dict[str, dict]:
    common = {
        "auth": {"type": "bearer"},
        "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        "data_selector": "data",
        "interval_params": {"start": "since", "end": "until"},
        "page_size": page_size,
        "page_size_param": "limit",
        # Short waits: the fake API's 429s and 5xx bursts are retried within a test's time.
        "retry": {"max_attempts": max_attempts, "backoff_factor": 0.05, "max_delay_s": 0.5},
    }
    return {
        "fake_events": {**common, "dataset": "events", "endpoint": "/v1/events",
                        "cursor_field": "event_ts"},
        "fake_users": {**common, "dataset": "users", "endpoint": "/v1/users",
                       "cursor_field": "updated_at"},
    }  # fmt: skip
