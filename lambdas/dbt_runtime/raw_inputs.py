"""The raw objects a run parses: which can be read as text lines, how many lines they deliver,
and whether a redrive's parse still stands.

Every object under a landing day's folder counts, whatever its name or sub-folder (both engines
read them all). Two kinds cannot be read as lines by Athena's text reader, so neither engine
reads them and staging quarantines each whole (reason unreadable_file, listed to dbt as the var
`unreadable_objects`): compressed objects (by name or by their first bytes) and hidden ones
(a name under the day starting with `_` or `.`, which Athena skips).

The lines each readable object delivers are counted here, from the bytes, with the line rule
both engines use (LF, CRLF or a lone CR ends a line; the empty text after the last line end is
not a line): the independent side of the accounting check (dbt_runtime.accounting), so a line
the SQL loses or merges into another cannot go unnoticed.

A failed run keeps its run-scoped relations (its parse of the raw interval) and a redrive that
resumes at the marts reads them instead of raw. That is only right while the raw objects are
the ones parsed: an operator who replaced a bad delivery before redriving (docs/runbooks.md)
expects the fix to be read. So the staging stage records a digest of the interval's raw objects
(key, ETag, size) with the delivered counts next to the execution's artifacts, and a redrive
compares it with the objects there now: unchanged, the parse is reused; changed or unknown,
staging runs again first.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from dbt_runtime.dbt_invocation import Interval
from dbt_runtime.settings import Settings

# Hadoop's codecs (what Athena decompresses by name) and other archive formats.
COMPRESSED_SUFFIXES = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".bz2": "bzip2",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".xz": "xz",
    ".lz4": "lz4",
    ".snappy": "snappy",
    ".deflate": "deflate",
    ".zip": "zip",
    ".br": "brotli",
    ".lzo": "lzo",
    ".z": "compress",
}
MAGIC_BYTES = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x04\x22\x4d\x18": "lz4",
}
_DAY = re.compile(r"^(?P<source>[^/]+)/dt=(?P<day>[^/]+)/(?P<rest>.+)$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawObject:
    bucket: str
    key: str
    etag: str
    size: int

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def source(self) -> str | None:
        match = _DAY.match(self.key)
        return match["source"] if match else None

    @property
    def day(self) -> str | None:
        match = _DAY.match(self.key)
        return match["day"] if match else None

    @property
    def hidden(self) -> bool:
        match = _DAY.match(self.key)
        return bool(match) and any(part[:1] in ("_", ".") for part in match["rest"].split("/"))

    def compression_by_name(self) -> str | None:
        name = self.key.rsplit("/", 1)[-1].lower()
        kinds = (kind for suffix, kind in COMPRESSED_SUFFIXES.items() if name.endswith(suffix))
        return next(kinds, None)


def compression_by_content(head: bytes) -> str | None:
    return next((kind for magic, kind in MAGIC_BYTES.items() if head.startswith(magic)), None)


class LineCounter:
    """Counts text lines in a byte stream fed in chunks, with the engines' rule: LF, CRLF or a
    lone CR ends a line, and text after the last line end is a line too."""

    def __init__(self) -> None:
        self.lines = 0
        self._last = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.lines += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if self._last == b"\r" and chunk[:1] == b"\n":
            self.lines -= 1  # a CRLF split across two chunks is one line end
        self._last = chunk[-1:]

    def total(self) -> int:
        return self.lines + (1 if self._last not in (b"", b"\n", b"\r") else 0)


@dataclass
class Inventory:
    """The raw objects of the interval's landing days (every day on a full refresh)."""

    objects: list[RawObject]
    unreadable: dict[str, str] = field(default_factory=dict)  # uri -> why

    def digest(self) -> str:
        entries = sorted((o.key, o.etag, o.size) for o in self.objects)
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()

    def readable(self) -> list[RawObject]:
        return [o for o in self.objects if o.uri not in self.unreadable and o.day]

    def unreadable_objects(self) -> dict[str, list[dict]]:
        """The dbt var `unreadable_objects`: per source table, one entry per object."""
        listed: dict[str, list[dict]] = {}
        for o in self.objects:
            if o.uri in self.unreadable and o.day:
                listed.setdefault(o.source, []).append(
                    {
                        "source_file": o.uri,
                        "landed_on": o.day,
                        "bytes": o.size,
                        "detail": self.unreadable[o.uri],
                    }
                )
        return listed


def s3_client(settings: Settings):
    import boto3

    return boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)


def _list(settings: Settings, interval: Interval, full_refresh: bool) -> list[RawObject]:
    s3 = s3_client(settings)
    paginator = s3.get_paginator("list_objects_v2")
    sources = [
        prefix["Prefix"]
        for page in paginator.paginate(Bucket=settings.raw_bucket, Delimiter="/")
        for prefix in page.get("CommonPrefixes", [])
    ]
    days = [None] if full_refresh else interval.days()
    found = []
    for source in sorted(sources):
        for day in days:
            prefix = source if day is None else f"{source}dt={day}/"
            for page in paginator.paginate(Bucket=settings.raw_bucket, Prefix=prefix):
                found += [
                    RawObject(settings.raw_bucket, o["Key"], o.get("ETag", ""), o.get("Size", 0))
                    for o in page.get("Contents", [])
                    if not o["Key"].endswith("/")  # a folder marker, not an object of data
                ]
    return found


def inventory(settings: Settings, interval: Interval, full_refresh: bool) -> Inventory:
    """List the interval's raw objects and find those that cannot be read as text lines."""
    objects = _list(settings, interval, full_refresh)
    s3 = s3_client(settings)
    unreadable = {}
    for o in objects:
        if not o.day:
            continue
        if o.hidden and o.size:  # an empty marker (e.g. _SUCCESS) delivers no lines: none lost
            unreadable[o.uri] = (
                f"hidden object ({o.size} bytes): a name starting with _ or . is not read by "
                "Athena; rename it (raw is never changed by the pipeline) and rerun the day"
            )
            continue
        if o.hidden:
            continue
        kind = o.compression_by_name()
        if kind is None and o.size:
            head = s3.get_object(Bucket=o.bucket, Key=o.key, Range="bytes=0-7")["Body"].read()
            kind = compression_by_content(head)
        if kind:
            unreadable[o.uri] = (
                f"{kind}-compressed object ({o.size} bytes) is not read: only uncompressed JSON "
                "lines are; deliver it uncompressed and rerun the day"
            )
    return Inventory(objects, unreadable)


def count_lines(settings: Settings, objects: list[RawObject]) -> dict[str, int]:
    """The lines each object delivers (by URI), counted from its bytes, streamed."""
    s3 = s3_client(settings)
    counts = {}
    for o in objects:
        counter = LineCounter()
        body = s3.get_object(Bucket=o.bucket, Key=o.key)["Body"]
        for chunk in body.iter_chunks(_CHUNK):
            counter.feed(chunk)
        counts[o.uri] = counter.total()
    return counts


def delivered(inventory_: Inventory, line_counts: dict[str, int]) -> dict[str, dict[str, dict]]:
    """Per source table and landing day: lines delivered by readable objects, objects read, and
    unreadable objects."""
    days: dict[str, dict[str, dict]] = {}
    for o in inventory_.objects:
        if not o.day:
            continue
        day = days.setdefault(o.source, {}).setdefault(
            o.day, {"lines": 0, "objects": 0, "unreadable_objects": 0}
        )
        if o.uri in inventory_.unreadable:
            day["unreadable_objects"] += 1
        else:
            day["objects"] += 1
            day["lines"] += line_counts.get(o.uri, 0)
    return days


def digest(settings: Settings, interval: Interval, full_refresh: bool) -> str:
    """A digest of every raw object of the interval's landing days (of every day on a full
    refresh), whatever its source folder or name."""
    return Inventory(_list(settings, interval, full_refresh)).digest()


def _location(settings: Settings, run_key: str) -> tuple[str, str]:
    bucket, _, prefix = settings.dbt_artifacts_s3.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}parses/{run_key}.json"


def record(
    settings: Settings,
    run_key: str,
    value: str,
    delivered_: dict | None = None,
    figures: dict | None = None,
) -> None:
    """Keep the parse's digest, delivered counts and accounting figures for its later stages."""
    bucket, key = _location(settings, run_key)
    body = {"raw_digest": value, "delivered": delivered_ or {}, "figures": figures}
    s3_client(settings).put_object(Bucket=bucket, Key=key, Body=json.dumps(body))


def _recorded_parse(settings: Settings, run_key: str) -> dict | None:
    from botocore.exceptions import ClientError

    bucket, key = _location(settings, run_key)
    try:
        body = s3_client(settings).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(body)


def recorded(settings: Settings, run_key: str) -> str | None:
    """The digest the run's parse recorded, or None when there is none."""
    parse = _recorded_parse(settings, run_key)
    return parse.get("raw_digest") if parse else None


def recorded_figures(settings: Settings, run_key: str) -> dict | None:
    """The run's parse's accounting figures per landing day (dbt_runtime.accounting), or None
    for a parse recorded before there were any."""
    parse = _recorded_parse(settings, run_key)
    return parse.get("figures") if parse else None
