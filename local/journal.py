"""The emulator's durable state: a write-ahead journal of the requests that changed it.

moto keeps every backend in memory and has no storage of its own. Rather than snapshotting
its backends (pickling moto's private objects, and a snapshot taken every N seconds loses the
last N seconds on a kill -9), the emulator appends every request that changed moto's state to
this journal, fsynced before the client gets its answer, and replays the journal into a fresh
moto when it starts. What a client was told succeeded is on disk, whatever happens next; what
moto answered with an error changed nothing and is not kept. moto's own recorder is not used:
it records every request, reads and failures included, before moto answers, and never fsyncs.

A record is the request as moto received it (method, path, query, the headers, the raw body:
aws-chunked S3 uploads with checksum trailers replay byte for byte and moto decodes them the
same way), framed as MAGIC, length and CRC32 of the payload, then the payload. A record cut
short by a crash (the process died mid-write, no fsync reached) is the journal's last: it is
dropped, with a log line, and the file is cut back to the last whole record.

Not journaled, because replaying them would do their work twice or cannot be replayed:
- Lambda Invoke (the seam runs the handler; its own S3/DynamoDB/Glue writes are journaled as
  they happen), Step Functions executions (StartExecution, StartSyncExecution,
  RedriveExecution, StopExecution: the integration calls an execution makes are journaled),
  Glue StartCrawler/StopCrawler (moto's crawler writes nothing);
- the moto-api (configuration, re-applied at every start) and the fault rules (a restart
  clears them);
- SNS Publish and SQS messages (the alerts inbox): replaying a receive cannot give back the
  receipt handles a client used to delete, so consumed alerts would come back.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

log = logging.getLogger("local.journal")

MAGIC = b"LHJ1"
_FRAME = struct.Struct(">4sII")  # magic, payload length, CRC32 of the payload
_HEADER_LEN = struct.Struct(">I")

# Operations named by X-Amz-Target or the query protocol's Action that only read.
_READ_PREFIXES = (
    "Get",
    "Describe",
    "List",
    "Query",
    "Scan",
    "BatchGet",
    "Search",
    "Check",
    "Validate",
    "Test",
    "Preview",
)
_NOT_REPLAYED = {
    "StartExecution",
    "StartSyncExecution",
    "RedriveExecution",
    "StopExecution",
    "StartCrawler",
    "StopCrawler",
    "Publish",
    "PublishBatch",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "PurgeQueue",
}
_LAMBDA_INVOKE = re.compile(r"^/20\d\d-\d\d-\d\d/functions/[^/]+/(invocations|invoke-async)/?$")
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")
# The environ keys that are part of the request (the rest is the server's own).
# RAW_URI: moto reads object keys from the undecoded path (a key may hold "%2F").
_ENVIRON_KEYS = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "RAW_URI",
    "REQUEST_URI",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
)


def operation(environ: dict, body: bytes) -> str | None:
    """The operation name of a JSON (X-Amz-Target) or query-protocol (Action=) request."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in (
        environ.get("CONTENT_TYPE") or ""
    ):
        for key, value in parse_qsl(body.decode("utf-8", "replace")):
            if key == "Action":
                return value
    return None


def changes_state(environ: dict, body: bytes) -> bool:
    """Whether the request may change moto's state and is to be replayed after a restart."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    if method in ("GET", "HEAD", "OPTIONS") or path.startswith("/moto-api"):
        return False
    if _LAMBDA_INVOKE.match(path):
        return False
    name = operation(environ, body)
    if name is None:  # REST protocols (S3, Lambda's control plane): the method says it
        return not _is_s3_read_post(environ)
    return name not in _NOT_REPLAYED and not name.startswith(_READ_PREFIXES)


def _is_s3_read_post(environ: dict) -> bool:
    """S3's POST reads: SelectObjectContent (?select)."""
    return "select" in dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def read_body(environ: dict) -> bytes:
    """Read the whole request body and put it back, so moto reads the same bytes."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


@dataclass
class Record:
    environ: dict  # the request's own environ entries (method, path, query, HTTP_* headers)
    body: bytes
    upload_id: str | None = None  # CreateMultipartUpload: the id moto answered

    def encode(self) -> bytes:
        header = json.dumps({"environ": self.environ, "upload_id": self.upload_id}).encode()
        payload = _HEADER_LEN.pack(len(header)) + header + self.body
        return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes) -> Record:
        (header_len,) = _HEADER_LEN.unpack_from(payload)
        header = json.loads(payload[_HEADER_LEN.size : _HEADER_LEN.size + header_len])
        body = payload[_HEADER_LEN.size + header_len :]
        return cls(header["environ"], body, header.get("upload_id"))

    @classmethod
    def of(cls, environ: dict, body: bytes) -> Record:
        kept = {
            k: v
            for k, v in environ.items()
            if (k in _ENVIRON_KEYS or k.startswith("HTTP_")) and isinstance(v, str)
        }
        # The body is kept as the server handed it over (HTTP chunking undone, an aws-chunked
        # S3 upload still aws-chunked): on replay it is a body of known length.
        kept.pop("HTTP_TRANSFER_ENCODING", None)
        kept["CONTENT_LENGTH"] = str(len(body))
        return cls(kept, body)


class CorruptJournal(RuntimeError):
    pass


class Journal:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._file = None

    def records(self) -> Iterator[Record]:
        """The journal's whole records, in order; a torn last record is cut off the file."""
        if not self.path.exists():
            return
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            offset = 0
            while offset < size:
                frame = fh.read(_FRAME.size)
                magic, length, crc = (
                    _FRAME.unpack(frame) if len(frame) == _FRAME.size else (b"", 0, 0)
                )
                payload = fh.read(length) if magic == MAGIC else b""
                end = offset + _FRAME.size + length
                if magic == MAGIC and len(payload) == length and zlib.crc32(payload) == crc:
                    yield Record.decode(payload)
                    offset = end
                    continue
                if magic == MAGIC and end >= size:  # the last record, cut short by a crash
                    break
                raise CorruptJournal(
                    f"{self.path} is damaged at byte {offset} of {size} (not a record the "
                    "emulator cut short: move the file aside to start, losing what follows)"
                )
        if offset < size:
            log.warning(
                "journal: dropped a torn last record (%d bytes at offset %d of %s): the "
                "emulator stopped while writing it, before its client got an answer",
                size - offset,
                offset,
                self.path,
            )
            os.truncate(self.path, offset)

    def replay(self, app: Callable) -> tuple[int, int]:
        """Send every record to `app` (moto's WSGI application); returns (replayed, failed).

        Multipart uploads get new upload ids from moto: later parts and the completion of an
        upload are sent with the id moto gave this time."""
        replayed = failed = 0
        upload_ids: dict[str, str] = {}
        for record in self.records():
            environ = dict(record.environ)
            for old, new in upload_ids.items():
                for key in ("QUERY_STRING", "RAW_URI", "REQUEST_URI"):
                    if key in environ:
                        environ[key] = environ[key].replace(f"uploadId={old}", f"uploadId={new}")
            query = environ.get("QUERY_STRING", "")
            environ.update(
                {
                    "wsgi.input": io.BytesIO(record.body),
                    "wsgi.url_scheme": "http",
                    "wsgi.errors": io.StringIO(),
                    "wsgi.version": (1, 0),
                    "wsgi.multithread": False,
                    "wsgi.multiprocess": False,
                    "wsgi.run_once": False,
                    "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "0",
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "SCRIPT_NAME": "",
                    "REMOTE_ADDR": "127.0.0.1",
                }
            )
            status, body = call(app, environ)
            if status.startswith("2"):
                replayed += 1
                if record.upload_id and (match := _UPLOAD_ID.search(body)):
                    upload_ids[record.upload_id] = match.group(1).decode()
            else:
                failed += 1
                log.warning(
                    "journal: replaying %s %s?%s answered %s",
                    environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO"),
                    query,
                    status,
                )
        return replayed, failed

    def open(self) -> None:
        self._file = open(self.path, "ab", buffering=0)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def serving(self, app: Callable) -> Callable:
        """`app` with every state-changing request journaled once it succeeded.

        Such requests are served one at a time, and journaled before the next starts: the
        journal's order is the order moto applied them (a conditional write that succeeded
        because of an earlier one is replayed after it). Reads are not held up."""

        def journaled(environ, start_response):
            body = read_body(environ)
            if not changes_state(environ, body):
                return app(environ, start_response)
            with self._lock:
                status, answer, headers = call_with_headers(app, environ)
                if status.startswith("2"):
                    record = Record.of(environ, body)
                    if "uploads" in dict(
                        parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
                    ) and (match := _UPLOAD_ID.search(answer)):
                        record.upload_id = match.group(1).decode()
                    self._append(record.encode())
            start_response(status, headers)
            return [answer]

        return journaled

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written:]
        os.fsync(self._file.fileno())


def call(app: Callable, environ: dict) -> tuple[str, bytes]:
    status, body, _ = call_with_headers(app, environ)
    return status, body


def call_with_headers(app: Callable, environ: dict) -> tuple[str, bytes, list]:
    captured: dict = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    answer = app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        getattr(answer, "close", lambda: None)()
    return captured["status"], body, captured["headers"]
