"""The emulator's journal: which requests it keeps, and what it does with a damaged file."""

from __future__ import annotations

import io
import json

import pytest

from local.journal import CorruptJournal, Journal, Record, changes_state

pytestmark = pytest.mark.unit


def environ(method: str, path: str = "/", target: str | None = None, **extra) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", **extra}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    return env


@pytest.mark.parametrize(
    ("env", "body", "kept"),
    [
        (environ("PUT", "/raw/events/dt=2026-01-01/a.jsonl"), b"{}", True),
        (environ("DELETE", "/raw/a"), b"", True),
        (environ("POST", "/raw/big", QUERY_STRING="uploads"), b"", True),
        (environ("POST", "/raw", QUERY_STRING="delete"), b"<Delete/>", True),
        (environ("GET", "/raw/a"), b"", False),
        (environ("HEAD", "/raw/a"), b"", False),
        (environ("POST", "/raw/a", QUERY_STRING="select&select-type=2"), b"", False),
        (environ("POST", "/", "DynamoDB_20120810.UpdateItem"), b"{}", True),
        (environ("POST", "/", "DynamoDB_20120810.Query"), b"{}", False),
        (environ("POST", "/", "DynamoDB_20120810.GetItem"), b"{}", False),
        (environ("POST", "/", "AWSGlue.UpdateTable"), b"{}", True),
        (environ("POST", "/", "AWSGlue.GetTables"), b"{}", False),
        (environ("POST", "/", "AWSGlue.StartCrawler"), b"{}", False),
        (environ("POST", "/", "AWSStepFunctions.CreateStateMachine"), b"{}", True),
        (environ("POST", "/", "AWSStepFunctions.StartExecution"), b"{}", False),
        (environ("POST", "/", "AWSStepFunctions.RedriveExecution"), b"{}", False),
        (environ("POST", "/", "AWSStepFunctions.DescribeExecution"), b"{}", False),
        (environ("POST", "/", "AmazonSQS.ReceiveMessage"), b"{}", False),
        (environ("POST", "/2015-03-31/functions/f/invocations"), b"{}", False),
        (environ("POST", "/2015-03-31/functions"), b"{}", True),
        (environ("PUT", "/2015-03-31/functions/f/configuration"), b"{}", True),
        (environ("POST", "/moto-api/config"), b"{}", False),
        (
            environ("POST", "/", CONTENT_TYPE="application/x-www-form-urlencoded"),
            b"Action=CreateRole&RoleName=r",
            True,
        ),
        (
            environ("POST", "/", CONTENT_TYPE="application/x-www-form-urlencoded"),
            b"Action=Publish&TopicArn=t",
            False,
        ),
        (
            environ("POST", "/", CONTENT_TYPE="application/x-www-form-urlencoded"),
            b"Action=GetCallerIdentity",
            False,
        ),
    ],
)
def test_which_requests_are_journaled(env, body, kept):
    assert changes_state(env, body) is kept


def _write(path, *records: Record) -> bytes:
    data = b"".join(r.encode() for r in records)
    path.write_bytes(data)
    return data


def test_a_record_keeps_the_raw_body_and_headers(tmp_path):
    body = b"5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=def\r\n\r\n"
    env = {
        **environ("PUT", "/raw/a", HTTP_CONTENT_ENCODING="aws-chunked"),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(),
    }
    _write(tmp_path / "j", Record.of(env, body))
    (record,) = Journal(tmp_path / "j").records()
    assert record.body == body
    assert record.environ["HTTP_CONTENT_ENCODING"] == "aws-chunked"
    assert record.environ["CONTENT_LENGTH"] == str(len(body))
    assert "HTTP_TRANSFER_ENCODING" not in record.environ and "wsgi.input" not in record.environ


def test_a_torn_last_record_is_dropped_and_cut_off(tmp_path, caplog):
    path = tmp_path / "j"
    first = Record(environ("PUT", "/a"), b"one")
    whole = _write(path, first, Record(environ("PUT", "/b"), b"two" * 100))
    path.write_bytes(whole[:-50])  # the crash came mid-write
    records = list(Journal(path).records())
    assert [r.environ["PATH_INFO"] for r in records] == ["/a"]
    assert path.read_bytes() == first.encode()
    assert "dropped a torn last record" in caplog.text


def test_damage_before_the_end_is_refused(tmp_path):
    path = tmp_path / "j"
    data = bytearray(
        _write(path, Record(environ("PUT", "/a"), b"one"), Record(environ("PUT", "/b"), b"two"))
    )
    data[20] ^= 0xFF  # inside the first record
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptJournal, match="damaged at byte 0"):
        list(Journal(path).records())
    assert path.read_bytes() == bytes(data)  # nothing cut


def test_replay_sends_multipart_parts_with_the_new_upload_id(tmp_path):
    path = tmp_path / "j"
    create = Record(environ("POST", "/raw/big", QUERY_STRING="uploads"), b"", upload_id="old-id")
    part = Record(environ("PUT", "/raw/big", QUERY_STRING="partNumber=1&uploadId=old-id"), b"p")
    _write(path, create, part)
    seen = []

    def app(env, start_response):
        seen.append(env["QUERY_STRING"])
        start_response("200 OK", [])
        return [b"<UploadId>new-id</UploadId>"]

    assert Journal(path).replay(app) == (2, 0)
    assert seen == ["uploads", "partNumber=1&uploadId=new-id"]


def test_a_request_is_journaled_only_when_it_succeeded(tmp_path):
    journal = Journal(tmp_path / "j")
    journal.open()

    def app(env, start_response):
        ok = json.loads(env["wsgi.input"].read())["ok"]
        start_response("200 OK" if ok else "400 Bad Request", [])
        return [b"{}"]

    served = journal.serving(app)
    for ok in (True, False):
        body = json.dumps({"ok": ok}).encode()
        env = environ("POST", "/", "DynamoDB_20120810.PutItem", CONTENT_LENGTH=str(len(body)))
        env["wsgi.input"] = io.BytesIO(body)
        served(env, lambda *_: None)
    journal.close()
    assert [json.loads(r.body)["ok"] for r in journal.records()] == [True]
