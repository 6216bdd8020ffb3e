"""The raw-side of the accounting: lines counted from bytes with the engines' rule, and which
objects cannot be read as lines (compressed, hidden from Athena)."""

from __future__ import annotations

import gzip

import pytest
from dbt_runtime.raw_inputs import (
    Inventory,
    LineCounter,
    RawObject,
    compression_by_content,
    delivered,
)

pytestmark = pytest.mark.unit


def count(body: bytes, chunk: int) -> int:
    counter = LineCounter()
    for start in range(0, len(body), chunk):
        counter.feed(body[start : start + chunk])
    return counter.total()


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"", 0),
        (b"a", 1),  # no final line end: still a line
        (b"a\n", 1),  # the empty text after the last line end is not a line
        (b"a\nb\n", 2),
        (b"a\r\nb\r\n", 2),
        (b"a\rb\r", 2),  # CR-only line ends
        (b"a\r\n\r\nb", 3),  # a blank line between
        (b"\n\n", 2),
        (b"a\r\rb", 3),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_lines_are_counted_with_the_engines_rule_whatever_the_chunks(body, lines, chunk):
    assert count(body, chunk) == lines


def obj(key: str, size: int = 10) -> RawObject:
    return RawObject("raw", key, '"etag"', size)


def test_an_object_is_hidden_when_a_name_under_its_day_starts_with_an_underscore_or_dot():
    assert obj("events/dt=2026-11-05/_SUCCESS").hidden
    assert obj("events/dt=2026-11-05/_tmp/part-0.jsonl").hidden
    assert obj("events/dt=2026-11-05/.part-0.jsonl.crc").hidden
    assert not obj("events/dt=2026-11-05/part_0.jsonl").hidden
    assert not obj("events/dt=2026-11-05/late/part-0.jsonl").hidden


def test_compression_is_found_by_name_or_by_the_first_bytes():
    assert obj("events/dt=2026-11-05/part-0.jsonl.GZ").compression_by_name() == "gzip"
    assert obj("events/dt=2026-11-05/part-0.json.zst").compression_by_name() == "zstd"
    assert obj("events/dt=2026-11-05/part-0.jsonl").compression_by_name() is None
    assert compression_by_content(gzip.compress(b"{}\n")[:8]) == "gzip"
    assert compression_by_content(b'{"event_id"') is None


def test_delivered_counts_lines_of_readable_objects_and_unreadable_objects_per_day():
    readable = obj("events/dt=2026-11-05/a.jsonl")
    packed = obj("events/dt=2026-11-05/b.jsonl.gz")
    users = obj("users/dt=2026-11-05/part-0.jsonl")
    inventory = Inventory([readable, packed, users], {packed.uri: "gzip-compressed"})
    assert inventory.readable() == [readable, users]
    figures = delivered(inventory, {readable.uri: 7, users.uri: 3})
    assert figures == {
        "events": {"2026-11-05": {"lines": 7, "objects": 1, "unreadable_objects": 1}},
        "users": {"2026-11-05": {"lines": 3, "objects": 1, "unreadable_objects": 0}},
    }
    listed = inventory.unreadable_objects()
    assert listed == {
        "events": [
            {
                "source_file": "s3://raw/events/dt=2026-11-05/b.jsonl.gz",
                "landed_on": "2026-11-05",
                "bytes": 10,
                "detail": "gzip-compressed",
            }
        ]
    }
