"""ingest Lambda: land the run interval's records of each enabled API source in the raw zone.

Event: {"interval": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "run_id": ...,
        "pipeline": the pipeline's name (where its leases are; needed once a source is enabled),
        "execution_id": the state machine's execution (the lease's holder; optional),
        "sources": [names] (optional: default every enabled source)}.
Returns {"status": SKIPPED | SUCCEEDED | INCOMPLETE, "days": [per source and day stats],
"totals": {...}, "started_at", "ended_at", "duration_s"}: the run record's `ingest` stage (the
state machine invokes it first in every run, and again while it answers INCOMPLETE).
SKIPPED: no source is enabled (the default configuration), so a pipeline without sources runs
as before, without importing dlt. INCOMPLETE: the function neared its timeout and
stopped between pages; invoking it again with the same event resumes (nothing is duplicated).
Errors (auth refused, schema violation, retries exhausted, a malformed page) raise with the
source, day and page in the message; whatever the day fetched before stays staged, not landed.

One invocation at a time ingests a source-day: it holds a lease in the run ledger
(dbt_runtime.lease, item `<pipeline>#lock` / `ingest#<source>#<day>`) while it does, because two
(a rerun racing a redrive, two tries of a run) would write the same staged pages and the same
state. An invocation that finds the lease taken raises IngestBusy before fetching anything; the
state machine retries it later, and it then resumes from the state the other left.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger

from dbt_runtime import lease, sources
from dbt_runtime.dbt_invocation import Interval, InvalidEvent, utc_now
from dbt_runtime.settings import ConfigurationError

if TYPE_CHECKING:
    from dbt_runtime import ingestion

logger = Logger()
DEFAULT_STATE_PREFIX = "_ingest"
# Stop fetching when less than this is left of the invocation: enough to save the state and
# return, so the next invocation resumes instead of the runtime killing this one mid-page. At
# most RESERVE_S, and RESERVE_SHARE of what an invocation starts with, so a short timeout keeps
# most of its time for fetching.
RESERVE_S = 60.0
RESERVE_SHARE = 0.15


def reserve_s(time_left) -> float:
    """The reserve of an invocation that has `time_left()` seconds when it starts."""
    return RESERVE_S if time_left is None else min(RESERVE_S, RESERVE_SHARE * time_left())


class IngestBusy(RuntimeError):
    """Another invocation is ingesting the source-day. The state machine retries this name."""


def _busy(source: str, day: str):
    def busy(other: str, held_s: float) -> IngestBusy:
        return IngestBusy(
            f"source {source!r}, day {day}: {other} has been ingesting it for {held_s:.0f} s; "
            "this run ingests it (resuming from its state) when that ends"
        )

    return busy


def ledger_from_env() -> lease.Table:
    table = os.environ.get("RUNS_TABLE", "").strip()
    if not table:
        raise ConfigurationError("environment variable RUNS_TABLE is not set (the ingest lease)")
    return lease.Table(
        table,
        os.environ.get("AWS_ENDPOINT_URL") or None,
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


def _client(service: str):
    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


def location_from_env() -> ingestion.Location:
    from dbt_runtime import ingestion

    bucket = os.environ.get("RAW_BUCKET", "").strip()
    if not bucket:
        raise ConfigurationError("environment variable RAW_BUCKET is not set")
    prefix = (os.environ.get("INGEST_STATE_PREFIX") or DEFAULT_STATE_PREFIX).strip("/")
    if not prefix.startswith("_"):
        # Athena and the crawler skip names starting with `_`: state must never look like raw.
        raise ConfigurationError(f"INGEST_STATE_PREFIX must start with '_', got {prefix!r}")
    return ingestion.Location(bucket=bucket, state_prefix=prefix)


def secrets_prefix_from_env() -> str:
    prefix = os.environ.get("SOURCE_SECRETS_PREFIX", "").strip()
    if not prefix:
        raise ConfigurationError(
            "environment variable SOURCE_SECRETS_PREFIX is not set (where the sources' tokens are)"
        )
    return prefix


def secret_token(secret_name: str) -> str:
    value = _client("secretsmanager").get_secret_value(SecretId=secret_name)["SecretString"]
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if not isinstance(document, dict):  # a plain token (even one that parses as a JSON number)
        return value.strip()
    if isinstance(document.get("token"), str):
        return document["token"]
    raise ConfigurationError(f"secret {secret_name!r} is a JSON object without a string 'token'")


def selected(event: dict) -> list[sources.Source]:
    available = sources.enabled()
    names = event.get("sources")
    if names is None:
        return [available[name] for name in sorted(available)]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidEvent("event.sources must be a list of source names")
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise InvalidEvent(f"event.sources names sources that are not enabled: {unknown}")
    return [available[name] for name in names]


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    started_at, clock = utc_now(), time.monotonic()
    result = _ingest(event, context)
    elapsed = time.monotonic() - clock
    return {
        **result,
        "started_at": started_at,
        "ended_at": utc_now(),
        "duration_s": round(elapsed, 3),
    }


def _ingest(event: dict, context) -> dict:
    interval = Interval.from_event(event)
    logger.append_keys(run_id=event.get("run_id"), stage="ingest")
    chosen = selected(event)
    if not chosen:
        return {"status": "SKIPPED", "reason": "no source is enabled", "days": [], "totals": {}}
    # dlt takes seconds to import: a run without sources (the default) must not pay for it.
    from dbt_runtime import ingestion

    pipeline = event.get("pipeline")
    if not isinstance(pipeline, str) or not pipeline:
        raise InvalidEvent("event.pipeline must be the pipeline's name (the ingest lease's)")
    location = location_from_env()
    ledger = ledger_from_env()
    s3 = _client("s3")
    time_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context else None
    reserve = reserve_s(time_left)
    # Per execution: a retried invocation of the same execution takes its own lease again.
    # Outside a state machine (no execution), per invocation.
    invocation = event.get("execution_id") or getattr(context, "aws_request_id", None)
    holder = f"run {event.get('run_id')} [{invocation or time.time_ns()}]"
    days = []
    for source in chosen:
        secret = source.secret_id(secrets_prefix_from_env()) if source.auth_type != "none" else None
        token = secret_token(secret) if secret else None
        for day in interval.days():
            # Held for at most what is left of this invocation (then it expires by itself).
            lease_s = time_left() if time_left else 900.0
            with lease.held(
                ledger,
                pipeline,
                f"ingest#{source.name}#{day}",
                holder,
                lease_s,
                _busy(source.name, day),
            ):
                stats = ingestion.ingest_day(
                    source,
                    day,
                    s3=s3,
                    location=location,
                    token=token,
                    secret=secret,
                    time_left_s=time_left,
                    reserve_s=reserve,
                )
            logger.info("ingested", extra=stats)
            days.append(stats)
            if stats["status"] != "COMPLETE":
                return _result("INCOMPLETE", days)
    return _result("SUCCEEDED", days)


def _result(status: str, days: list[dict]) -> dict:
    totals = {
        key: sum(day[key] for day in days)
        for key in ("pages", "records", "bytes", "requests", "retries")
    }
    totals["duration_s"] = round(sum(day["duration_s"] for day in days), 3)
    return {"status": status, "days": days, "totals": totals}
