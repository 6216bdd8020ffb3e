"""The local engine's line reader (dbt_runtime.raw_lines): raw objects streamed in chunks into
Parquet lines with Athena's rule, whatever the chunk boundaries, with exact line numbers and
per-line decoding; the independent count the accounting check uses agrees with it."""

from __future__ import annotations

import random

import boto3
import pyarrow.parquet as pq
import pytest
from dbt_runtime import raw_lines
from dbt_runtime.raw_inputs import LineCounter, RawObject
from moto import mock_aws

pytestmark = pytest.mark.unit

PIECES = [b"a", b"\xc3\xa9", b"\n", b"\r", b"\r\n", b"\xff", b'"', b"\\"]


def lines_of(body: bytes, chunk: int) -> list[bytes]:
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    return [line for batch in raw_lines.split(chunks) for line in batch]


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"", []),
        (b"a", [b"a"]),
        (b"a\n", [b"a"]),
        (b"a\r\nb\r\n", [b"a", b"b"]),
        (b"a\rb\r", [b"a", b"b"]),
        (b"a\r\n\r\nb", [b"a", b"", b"b"]),
        (b"\n\n", [b"", b""]),
        (b"a\r\rb", [b"a", b"", b"b"]),
        # other characters Unicode calls line breaks are not line ends for the text reader
        (b"a\x0bb\x0cc\x1cd\x85e\xe2\x80\xa8f", [b"a\x0bb\x0cc\x1cd\x85e\xe2\x80\xa8f"]),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_objects_split_into_lines_with_athenas_rule_whatever_the_chunks(body, lines, chunk):
    assert lines_of(body, chunk) == lines


def test_random_bodies_split_and_count_alike_at_every_chunk_size():
    rng = random.Random(17)
    for _ in range(3000):
        body = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        chunk = rng.randint(1, 9)
        counter = LineCounter()
        for i in range(0, len(body), chunk):
            counter.feed(body[i : i + chunk])
        split = lines_of(body, chunk)
        assert split == body.splitlines(), (body, chunk)
        assert counter.total() == len(split), (body, chunk)


def test_a_line_longer_than_many_chunks_is_one_line():
    long = b"x" * 10_000
    assert lines_of(b"a\r" + long + b"\r\nb", 7) == [b"a", long, b"b"]


def test_only_the_lines_with_invalid_bytes_are_not_decodable_and_they_show_their_bytes():
    obj = RawObject("raw", "events/dt=2026-11-05/part-0.jsonl", '"e"', 0)
    body = b'{"id": "\xc3\xa9"}\n{"id": "x\xff\\"}\r\n\xef\xbb\xbf{}\n'
    batches = list(raw_lines._batches(obj, [body[:5], body[5:]]))
    rows = [row for batch in batches for row in batch.to_pylist()]
    assert [(r["line_number"], r["decodable"]) for r in rows] == [(1, True), (2, False), (3, True)]
    assert rows[0]["line"] == '{"id": "é"}'
    assert rows[1]["line"] == '{"id": "x\\xFF\\x5C"}'
    assert rows[2]["line"] == "\ufeff{}"  # staging removes a leading byte-order mark
    assert {(r["dt"], r["source_file"]) for r in rows} == {("2026-11-05", obj.uri)}


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 with the bucket `raw`, which the line reader reads through."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="raw")
        monkeypatch.setattr(raw_lines, "s3_client", lambda _settings: client)
        yield client


def test_staged_objects_are_one_parquet_file_per_table_with_every_line(tmp_path, monkeypatch, s3):
    """Through S3: each table's objects in one file, numbered per object, counted alike."""
    monkeypatch.setattr(raw_lines, "CHUNK", 5)  # every object spans many chunks
    bodies = {
        "events/dt=2026-11-05/a.jsonl": b"e1\r\ne2\re3\n",
        "events/dt=2026-11-05/late/b.jsonl": b"e4\n\ne5",
        "events/dt=2026-11-06/c.jsonl": b"",
        "users/dt=2026-11-05/u.jsonl": b"u1\nu2\n",
    }
    for key, body in bodies.items():
        s3.put_object(Bucket="raw", Key=key, Body=body)
    objects = [RawObject("raw", key, '"e"', len(body)) for key, body in bodies.items()]
    files, counts = raw_lines.stage(None, objects, tmp_path)
    assert set(files) == {"events", "users"}
    events = pq.read_table(files["events"]).to_pylist()
    assert [(r["source_file"].rsplit("/", 1)[-1], r["line_number"], r["line"]) for r in events] == [
        ("a.jsonl", 1, "e1"), ("a.jsonl", 2, "e2"), ("a.jsonl", 3, "e3"),
        ("b.jsonl", 1, "e4"), ("b.jsonl", 2, ""), ("b.jsonl", 3, "e5"),
    ]  # fmt: skip
    assert {r["dt"] for r in events} == {"2026-11-05"}
    assert [r["line"] for r in pq.read_table(files["users"]).to_pylist()] == ["u1", "u2"]
    assert counts == {f"s3://raw/{key}": len(body.splitlines()) for key, body in bodies.items()}


def test_an_object_deleted_after_the_listing_is_a_readable_error(tmp_path, s3):
    gone = RawObject("raw", "events/dt=2026-11-05/a.jsonl", '"e"', 3)
    with pytest.raises(raw_lines.RawObjectGone, match="a.jsonl was listed .* is gone"):
        raw_lines.stage(None, [gone], tmp_path)
