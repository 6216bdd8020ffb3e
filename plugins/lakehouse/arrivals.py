"""Which days newly landed raw files belong to, from the S3 event notifications that an
on-arrival run's asset events carry (S3 -> SQS -> the provider's SQS trigger -> asset event).

Pure functions: nothing here calls AWS or reads a clock. The day is the object key's `dt=`
partition, never the time the file arrived: a late file re-runs the day it belongs to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from urllib.parse import unquote_plus

from lakehouse.run_request import InvalidRunRequest

# The raw datasets (contracts/sources.json): the prefixes the bucket notification covers.
DATASETS: tuple[str, ...] = tuple(
    json.loads((Path(__file__).resolve().parents[1] / "contracts" / "sources.json").read_text())[
        "datasets"
    ]
)
_KEY = re.compile(r"^(?P<dataset>[^/]+)/dt=(?P<day>[^/]+)/[^/]+$")


class InvalidArrival(InvalidRunRequest):
    """An S3 event names an object that is not a raw file of a day partition."""


def day_of_key(key: str) -> date:
    """The day a raw object belongs to: `<dataset>/dt=YYYY-MM-DD/<file>`.

    S3 event notifications URL-encode keys (`dt%3D2026-01-05`), so the key is decoded first.
    Anything else is refused by name: a wrong day would rebuild the wrong partition silently.
    """
    decoded = unquote_plus(key)
    match = _KEY.match(decoded)
    if not match or match["dataset"] not in DATASETS:
        raise InvalidArrival(
            f"raw object {decoded!r} is not <dataset>/dt=YYYY-MM-DD/<file> "
            f"with a dataset of {', '.join(DATASETS)}"
        )
    text = match["day"]
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArrival(
            f"raw object {decoded!r}: dt={text} is not a calendar day (YYYY-MM-DD)"
        ) from None


def keys_of_message(body: str | dict) -> list[str]:
    """The created objects' keys in one S3 event notification (an SQS message's body).

    S3's `s3:TestEvent` (sent when the notification is configured) names no object: no keys.
    """
    notification = json.loads(body) if isinstance(body, str) else body
    if not isinstance(notification, dict):
        raise InvalidArrival(f"not an S3 event notification: {body!r}")
    keys = []
    for record in notification.get("Records") or ():
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        try:
            keys.append(record["s3"]["object"]["key"])
        except (KeyError, TypeError):
            raise InvalidArrival(f"S3 event record without an object key: {record!r}") from None
    return keys


def arrived_days(asset_event_extras: Iterable[dict]) -> list[date]:
    """The sorted, distinct days of the raw files in the asset events' SQS messages.

    Each extra is what Airflow stores for a watcher's trigger event:
    `{"from_trigger": true, "payload": {"message_batch": [<SQS message>, ...]}}`.
    """
    days: set[date] = set()
    for extra in asset_event_extras:
        payload = (extra or {}).get("payload") or {}
        for message in payload.get("message_batch") or ():
            for key in keys_of_message(message.get("Body", "")):
                days.add(day_of_key(key))
    return sorted(days)
