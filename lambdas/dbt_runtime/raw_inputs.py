"""What raw data a run's parse read, so a redrive knows whether that parse still stands.

A failed run keeps its run-scoped relations (its parse of the raw interval) and a redrive that
resumes at the marts reads them instead of raw. That is only right while the raw objects are
the ones parsed: an operator who replaced a bad delivery before redriving (docs/runbooks.md)
expects the fix to be read. So the staging stage records a digest of the interval's raw objects
(key, ETag, size) next to the execution's artifacts, and a redrive compares it with the objects
there now: unchanged, the parse is reused; changed or unknown, staging runs again first.
"""

from __future__ import annotations

import hashlib
import json

from dbt_runtime.dbt_invocation import Interval
from dbt_runtime.settings import Settings


def _s3(settings: Settings):
    import boto3

    return boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)


def digest(settings: Settings, interval: Interval, full_refresh: bool) -> str:
    """A digest of every raw object of the interval's landing days (of every day on a full
    refresh), whatever its source folder or name."""
    s3 = _s3(settings)
    paginator = s3.get_paginator("list_objects_v2")
    sources = [
        prefix["Prefix"]
        for page in paginator.paginate(Bucket=settings.raw_bucket, Delimiter="/")
        for prefix in page.get("CommonPrefixes", [])
    ]
    days = [None] if full_refresh else interval.days()
    entries = []
    for source in sorted(sources):
        for day in days:
            prefix = source if day is None else f"{source}dt={day}/"
            for page in paginator.paginate(Bucket=settings.raw_bucket, Prefix=prefix):
                entries += [
                    (obj["Key"], obj.get("ETag", ""), obj.get("Size", 0))
                    for obj in page.get("Contents", [])
                ]
    return hashlib.sha256(json.dumps(sorted(entries)).encode()).hexdigest()


def _location(settings: Settings, run_key: str) -> tuple[str, str]:
    bucket, _, prefix = settings.dbt_artifacts_s3.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}parses/{run_key}.json"


def record(settings: Settings, run_key: str, value: str) -> None:
    bucket, key = _location(settings, run_key)
    _s3(settings).put_object(Bucket=bucket, Key=key, Body=json.dumps({"raw_digest": value}))


def recorded(settings: Settings, run_key: str) -> str | None:
    """The digest the run's parse recorded, or None when there is none."""
    from botocore.exceptions import ClientError

    bucket, key = _location(settings, run_key)
    try:
        body = _s3(settings).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(body).get("raw_digest")
