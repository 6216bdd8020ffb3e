"""Deterministic sample raw data: `events` and `users` as JSON lines, one folder per day.

  python -m local.sample_data --start 2026-11-20 [--days 1] [--events 10000] [--seed 42]

Writes s3://<raw bucket>/events/dt=YYYY-MM-DD/part-NNNNN.jsonl and users/dt=.../ in the local
stack. The same (seed, day) always gives the same bytes; days are independent, so a range can be
generated in any order. Events are streamed out in parts, so memory does not grow with the day.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EVENT_TYPES = ("page_view", "add_to_cart", "purchase", "login", "signup")
EVENT_WEIGHTS = (60, 15, 8, 12, 5)
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "ES", "NL", "CA")
PLANS = ("free", "pro", "enterprise")
PAGES = ("/", "/pricing", "/product/1", "/product/2", "/cart", "/checkout", "/blog")
DEVICES = ("desktop", "mobile", "tablet")
PART_LINES = 100_000
# Share of a day's events that arrive late: stamped one or two days before the day they land
# (within the pipeline's default lookback), as mobile clients that were offline do.
LATE_SHARE = 0.02


@dataclass
class DayWritten:
    day: date
    events: int
    users: int
    files: list[str]


def population_size(events_per_day: int) -> int:
    return max(50, events_per_day // 20)


def user_record(index: int, seed: int, updated_at: datetime) -> dict:
    rng = random.Random(f"{seed}:user:{index}")
    signed_up = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(730 * 86400))
    return {
        "user_id": f"u{index:07d}",
        "email": f"user{index}@example.com",
        "country": rng.choice(COUNTRIES),
        "plan": rng.choices(PLANS, weights=(70, 25, 5))[0],
        "signed_up_at": _iso(signed_up),
        "updated_at": _iso(updated_at),
    }


def events_for_day(
    day: date, count: int, seed: int, late_share: float = LATE_SHARE
) -> Iterator[dict]:
    """The events that land on `day`: stamped that day, or 1-2 days earlier for late ones."""
    rng = random.Random(f"{seed}:events:{day.isoformat()}")
    population = population_size(count)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for _ in range(count):
        event_type = rng.choices(EVENT_TYPES, weights=EVENT_WEIGHTS)[0]
        days_late = rng.choice((1, 2)) if rng.random() < late_share else 0
        moment = start - timedelta(days=days_late)
        event = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "user_id": f"u{rng.randrange(population):07d}",
            "event_type": event_type,
            "event_ts": _iso(moment + timedelta(microseconds=rng.randrange(86_400_000_000))),
            "properties": {"page": rng.choice(PAGES), "device": rng.choice(DEVICES)},
        }
        if event_type == "purchase":
            event["revenue"] = round(rng.uniform(5, 500), 2)
            event["properties"]["currency"] = "USD"
        yield event


def write_day(
    s3,
    bucket: str,
    day: date,
    events: int,
    seed: int = 42,
    late_share: float = LATE_SHARE,
    progress: Callable[[date, int, int], None] | None = None,
) -> DayWritten:
    """Write one day of events and the users seen that day; returns what was written.

    `progress(day, events_written, events)` is called after each part file.
    """
    prefix = f"dt={day.isoformat()}"
    files: list[str] = []
    seen_users: set[int] = set()
    buffer = io.BytesIO()
    lines = part = done = 0

    def flush() -> None:
        nonlocal buffer, lines, part, done
        key = f"events/{prefix}/part-{part:05d}.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        files.append(key)
        done += lines
        buffer, lines, part = io.BytesIO(), 0, part + 1
        if progress:
            progress(day, done, events)

    for event in events_for_day(day, events, seed, late_share):
        seen_users.add(int(event["user_id"][1:]))
        buffer.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
        lines += 1
        if lines == PART_LINES:
            flush()
    if lines or not files:
        flush()

    updated_at = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    users = b"".join(
        json.dumps(user_record(i, seed, updated_at), separators=(",", ":")).encode() + b"\n"
        for i in sorted(seen_users)
    )
    key = f"users/{prefix}/part-00000.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=users)
    files.append(key)
    return DayWritten(day, events, len(seen_users), files)


def _print_progress(day: date, written: int, total: int) -> None:
    print(f"  {day}: {written}/{total} events written", file=sys.stderr, flush=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def main(argv: list[str] | None = None) -> int:
    from local.aws import client
    from local.stack import LocalStack

    parser = argparse.ArgumentParser(description="Generate sample raw data in the local stack")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--events", type=int, default=10_000, help="events per day")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--late-share", type=float, default=LATE_SHARE, help="share of events 1-2 days late"
    )
    args = parser.parse_args(argv)
    if args.days < 1 or args.events < 0:
        parser.error("--days must be >= 1 and --events >= 0")
    if not 0 <= args.late_share <= 1:
        parser.error("--late-share must be between 0 and 1")
    stack = LocalStack()
    endpoint = stack.endpoint_url()
    if not endpoint:
        parser.error("the local stack is not running: python -m local.stack up")
    bucket = json.loads((stack.dir / "stack.json").read_text())["names"]["raw_bucket"]
    s3 = client("s3", endpoint)
    for offset in range(args.days):
        written = write_day(
            s3,
            bucket,
            args.start + timedelta(days=offset),
            args.events,
            args.seed,
            args.late_share,
            progress=_print_progress,
        )
        print(
            f"{written.day}: {written.events} events, {written.users} users -> s3://{bucket}/",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
