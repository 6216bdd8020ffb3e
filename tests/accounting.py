"""The accounting invariant, checked from outside the pipeline: the lines each landing day's
raw objects deliver, counted here from the bytes (LF, CRLF or CR ends a line), against the
figures the run recorded, and delivered = accepted + quarantined + held back."""

from __future__ import annotations

import re


def split_lines(body: bytes) -> list[bytes]:
    lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def raw_lines_per_day(s3, bucket: str, table: str) -> dict[str, int]:
    """Lines delivered per landing day by the table's raw objects (all plain JSON lines here)."""
    days: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{table}/"):
        for obj in page.get("Contents", []):
            day = re.match(rf"{table}/dt=([^/]+)/", obj["Key"])[1]
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            days[day] = days.get(day, 0) + len(split_lines(body))
    return days


def assert_accounted(run: dict, s3, bucket: str, stage: str = "dbt_marts") -> None:
    """The run's recorded figures of `stage` add up and match the raw objects' lines."""
    accounting = run["stages"][stage]["accounting"]
    for table in ("events", "users"):
        raw = raw_lines_per_day(s3, bucket, table)
        for day, figures in accounting[table].items():
            assert figures["delivered"] == raw.get(day, 0), (table, day, figures)
            assert figures["delivered"] == (
                figures["accepted"] + figures["quarantined"] + figures["held_back"]
            ), (table, day, figures)
        interval = {day for day in raw if run["interval_start"] <= day < run["interval_end"]}
        assert interval <= set(accounting[table]), (table, interval, accounting[table])
