"""The local engine's text reader: raw objects as lines for DuckDB, read in bounded chunks.

On Athena, staging reads raw through the Glue `<table>_lines` tables, whose text reader streams
each object and splits it into lines. DuckDB has no reader with those semantics: `read_csv`
drops or refuses a line of invalid UTF-8 and cannot number lines, and `read_blob`/`read_text`
hold each object whole. Staging that split whole objects in SQL ran out of the function's
memory on intervals over about 1M events (docs/benchmarks.md, 2026-12-07): several objects'
text, decoded copies and line lists were held at once, beside staging's buffering operators,
and none of it can be spilled. So, on the local target only, the dbt-executor streams each
readable object here in chunks of CHUNK bytes, splits it with the engines' line rule, and
writes one Parquet file per raw table; the DuckDB side of macros/raw_lines.sql reads that file
(var `raw_lines`), which DuckDB scans and spills like any table. Memory is bounded by a chunk
plus the longest line.

The rule is Athena's (and dbt_runtime.raw_inputs.LineCounter's): LF, CRLF or a lone CR ends a
line, the empty text after the last line end is not a line, an empty object has no lines. A
line that is not valid UTF-8 is not decodable: its text shows every byte outside printable
ASCII (and the backslash) as `\\xNN`, so the quarantine shows the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dbt_runtime.raw_inputs import LineCounter, RawObject, s3_client
from dbt_runtime.settings import Settings

CHUNK = 4 << 20
# dt and source_file are one value per object: dictionary-encoded, they cost 4 bytes a line
# (a file of empty lines would otherwise hold its name once per line).
_ONE_VALUE = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema(
    [
        ("dt", _ONE_VALUE),
        ("source_file", _ONE_VALUE),
        ("line_number", pa.int64()),
        ("line", pa.string()),
        ("decodable", pa.bool_()),
    ]
)


class RawObjectGone(RuntimeError):
    """A listed raw object could not be read: deleted or moved during the parse."""


def split(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of a byte stream fed in chunks, one list per chunk that ends a line."""
    held: list[bytes] = []  # the start of a line not ended yet (a long line: many chunks)
    for chunk in chunks:
        if not chunk:
            continue
        # A CR ending the chunk may be the first half of a CRLF: its line waits for the next.
        end = len(chunk) - 1 if chunk.endswith(b"\r") else len(chunk)
        cut = max(chunk.rfind(b"\n", 0, end), chunk.rfind(b"\r", 0, end))
        if cut < 0:
            held.append(chunk)
            continue
        yield b"".join([*held, chunk[: cut + 1]]).splitlines()
        held = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
    tail = b"".join(held)
    if tail:
        yield tail.splitlines()


def escaped(line: bytes) -> str:
    """A line that is not UTF-8, readable: printable ASCII as is, other bytes as `\\xNN`."""
    return "".join(chr(b) if 32 <= b <= 126 and b != 0x5C else f"\\x{b:02X}" for b in line)


def _texts(lines: list[bytes]) -> tuple[pa.Array, pa.Array]:
    raw = pa.array(lines, pa.binary())
    try:
        return raw.cast(pa.string()), pa.repeat(pa.scalar(True), len(lines))
    except pa.ArrowInvalid:  # some line is not UTF-8: decide line by line
        texts, decodable = [], []
        for line in lines:
            try:
                texts.append(line.decode("utf-8"))
                decodable.append(True)
            except UnicodeDecodeError:
                texts.append(escaped(line))
                decodable.append(False)
        return pa.array(texts, pa.string()), pa.array(decodable, pa.bool_())


def _repeated(value: str, n: int) -> pa.DictionaryArray:
    zeros = pa.repeat(pa.scalar(0, pa.int32()), n)
    return pa.DictionaryArray.from_arrays(zeros, pa.array([value], pa.string()))


def _batches(obj: RawObject, chunks: Iterable[bytes]) -> Iterator[pa.RecordBatch]:
    number = 1
    for lines in split(chunks):
        if not lines:
            continue
        n = len(lines)
        text, decodable = _texts(lines)
        yield pa.RecordBatch.from_arrays(
            [
                _repeated(obj.day, n),
                _repeated(obj.uri, n),
                pa.array(range(number, number + n), pa.int64()),
                text,
                decodable,
            ],
            schema=SCHEMA,
        )
        number += n


def stage(
    settings: Settings, objects: list[RawObject], directory: Path
) -> tuple[dict[str, str], dict[str, int]]:
    """Write the lines of `objects` to one Parquet file per raw table under `directory`.

    Returns the dbt var `raw_lines` ({table: file}) and the lines each object delivers by URI,
    counted from the same bytes by LineCounter, the accounting check's independent count."""
    s3 = s3_client(settings)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for obj in objects:
            counter = LineCounter()

            def chunks(body, counter=counter) -> Iterator[bytes]:
                for chunk in body.iter_chunks(CHUNK):
                    counter.feed(chunk)
                    yield chunk

            try:
                body = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
            except s3.exceptions.NoSuchKey as exc:
                raise RawObjectGone(
                    f"raw object {obj.uri} was listed for this parse but is gone: it was "
                    "deleted or moved while the run read raw; rerun the interval"
                ) from exc
            for batch in _batches(obj, chunks(body)):
                if obj.source not in writers:
                    path = directory / f"{obj.source}.parquet"
                    writers[obj.source] = pq.ParquetWriter(path, SCHEMA, compression="snappy")
                    files[obj.source] = str(path)
                writers[obj.source].write_batch(batch)
            counts[obj.uri] = counter.total()
    finally:
        for writer in writers.values():
            writer.close()
    return files, counts
