"""Bad raw input through the real DAG: every kind is quarantined with its reason, source file
and line, the good lines reach the marts, the run summary counts them, reruns do not duplicate
them, raw files are never modified, and too much bad input fails the run before the marts
change (then a higher threshold lets it through)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest

from local import sample_data
from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from local.demo import run_dag_for_day
from tests.accounting import split_lines

pytestmark = [pytest.mark.e2e, pytest.mark.cost(5)]
DAY = date(2026, 11, 5)
NEXT_DAY = date(2026, 11, 6)
GARBAGE_DAY = date(2026, 11, 7)
GOOD_EVENTS = 800  # with ~30 bad lines, well under the default 5% threshold
MARTS = ("fct_events", "dim_users", "daily_metrics")
REPO = Path(__file__).resolve().parents[2]


def event(event_id: str, **overrides) -> dict:
    record = {
        "event_id": event_id,
        "user_id": "u0000001",
        "event_type": "page_view",
        "event_ts": f"{DAY}T12:00:00.000000Z",
        "properties": {"page": "/", "device": "desktop"},
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()


def jsonl(*records) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
        for r in records
    )


@dataclass
class Case:
    """One raw file of the bad day: its bytes, the quarantine rows it must give
    ((line_number, reason), in line order) and the event ids that must reach fct_events."""

    body: bytes
    quarantined: list[tuple[int | None, str]] = field(default_factory=list)
    good: list[str] = field(default_factory=list)
    name: str | None = None  # the object's name under the day (default bad-<kind>.jsonl)
    raw_lines: dict[int, str] = field(default_factory=dict)  # expected raw_line when not UTF-8


def _cases() -> dict[str, Case]:
    ok = event("k-ok")
    good_line = json.dumps(ok).encode()
    return {
        "malformed_json": Case(
            jsonl(event("mj-1"), b'{"event_id": "mj-2", "user_id": ', event("mj-3")),
            [(2, "malformed_json")],
            ["mj-1", "mj-3"],
        ),
        # A delivery cut short: the last line is half a record, without its newline.
        "truncated_file": Case(
            jsonl(event("tf-1"), event("tf-2")) + json.dumps(event("tf-3")).encode()[:30],
            [(3, "malformed_json")],
            ["tf-1", "tf-2"],
        ),
        "empty_file": Case(b""),
        "missing_required_field": Case(
            jsonl(event("mr-1"), event("mr-2", event_ts=_DROP), event("mr-3", event_type=None)),
            [(2, "missing_required_field"), (3, "missing_required_field")],
            ["mr-1"],
        ),
        "wrong_type_revenue": Case(
            jsonl(event("wr-1", event_type="purchase", revenue="abc"), event("wr-2")),
            [(1, "wrong_type")],
            ["wr-2"],
        ),
        "wrong_type_timestamp": Case(
            jsonl(event("wt-1", event_ts="the day before yesterday"), event("wt-2")),
            [(1, "wrong_type")],
            ["wt-2"],
        ),
        "unknown_event_type": Case(
            jsonl(event("ut-1", event_type="teleport"), event("ut-2", event_type="LOGIN")),
            [(1, "unknown_event_type")],
            ["ut-2"],
        ),
        "event_ts_out_of_range": Case(
            jsonl(
                event("tr-1", event_ts="1999-12-31T23:59:59Z"),
                event("tr-2", event_ts="2026-11-08T00:00:00Z"),  # 3 days after landing
                event("tr-3", event_ts="2026-11-06T12:00:00Z"),  # within max_future_days
                event("tr-4", event_ts="2026-10-30T12:00:00Z"),  # older than the lookback
            ),
            [(1, "event_ts_out_of_range"), (2, "stamped_after_landing"), (4, "outside_lookback")],
            ["tr-3"],
        ),
        "null_user_id": Case(
            jsonl(event("nu-1", user_id=None), event("nu-2")),
            [(1, "null_user_id")],
            ["nu-2"],
        ),
        # The kept line is the one whose text sorts first (a rule Athena can follow too: it
        # has no line numbers): "login" < "page_view", so line 1 stays and line 3 is the copy.
        "duplicate_event_id": Case(
            jsonl(event("dup-1", event_type="login"), event("dup-2"), event("dup-1")),
            [(3, "duplicate_event_id")],
            ["dup-1", "dup-2"],
        ),
        "duplicate_event_id_sorted_first": Case(
            jsonl(event("dup-3"), event("dup-3", event_type="login")),
            [(1, "duplicate_event_id")],
            ["dup-3"],
        ),
        "oversized_record": Case(
            jsonl(event("os-1", properties={"page": "/" + "x" * 70_000}), event("os-2")),
            [(1, "oversized_record")],
            ["os-2"],
        ),
        "non_ascii": Case(
            jsonl(event("na-1", properties={"page": "/café/东京/🎉", "device": "móvil"})),
            [],
            ["na-1"],
        ),
        "new_field": Case(
            jsonl(event("nf-1", campaign="winter", properties={"page": "/", "extra": 1})),
            [],
            ["nf-1"],
        ),
        # One bad byte costs its line only: the valid lines around it are read.
        "invalid_encoding": Case(
            good_line + b"\n" + b'{"event_id": "ie-1\xff"}\n' + jsonl(event("ie-2")),
            [(2, "invalid_encoding")],
            ["k-ok", "ie-2"],
            raw_lines={2: '{"event_id": "ie-1\\xFF"}'},
        ),
        "byte_order_mark": Case(
            b"\xef\xbb\xbf" + jsonl(event("bom-1"), event("bom-2")), [], ["bom-1", "bom-2"]
        ),
        "carriage_returns_only": Case(
            json.dumps(event("cr-1")).encode() + b"\r" + json.dumps(event("cr-2")).encode() + b"\r",
            [],
            ["cr-1", "cr-2"],
        ),
        "crlf_and_whitespace_lines": Case(
            json.dumps(event("ws-1")).encode()
            + b"\r\n\t \r\n"
            + json.dumps(event("ws-2")).encode(),
            [(2, "malformed_json")],
            ["ws-1", "ws-2"],
        ),
        "not_strict_json": Case(
            jsonl(
                json.dumps(event("sj-1")).encode()[:-1] + b", }",  # a trailing comma
                json.dumps(event("sj-2", properties={"score": "X"}))
                .encode()
                .replace(b'"X"', b"NaN"),
                event("sj-3", properties={"note": "NaN, Infinity,]"}),
            ),
            [(1, "malformed_json"), (2, "malformed_json")],
            ["sj-3"],
        ),
        "revenue_rules": Case(
            jsonl(
                event("rv-1", event_type="purchase", revenue=19.99),
                event("rv-2", event_type="purchase", revenue=1.005),
                event("rv-3", event_type="purchase", revenue=-5),
                event("rv-4", event_type="purchase", revenue=1e15),
            ),
            [(2, "invalid_value"), (3, "invalid_value"), (4, "invalid_value")],
            ["rv-1"],
        ),
        "empty_ids": Case(
            jsonl(event(""), event("ei-2", user_id=""), event("  "), event("ei-4")),
            [
                (1, "missing_required_field"),
                (2, "missing_required_field"),
                (3, "missing_required_field"),
            ],
            ["ei-4"],
        ),
        # Any name, any sub-folder: every object under the day is read.
        "other_name_json": Case(jsonl(event("on-1")), [], ["on-1"], name="export.json"),
        "other_name_ndjson": Case(jsonl(event("on-2")), [], ["on-2"], name="late/part-0.NDJSON"),
        "no_extension": Case(jsonl(event("on-3")), [], ["on-3"], name="sub/dir/events"),
        # Not text lines: quarantined whole, one row, never silently skipped.
        "gzip_by_name": Case(
            gzip.compress(jsonl(event("gz-1"))), [(None, "unreadable_file")], name="bad.jsonl.gz"
        ),
        "gzip_by_content": Case(
            gzip.compress(jsonl(event("gz-2"))),
            [(None, "unreadable_file")],
            name="gz-content.jsonl",
        ),
        "hidden_name": Case(
            jsonl(event("hd-1")), [(None, "unreadable_file")], name="_tmp/part-0.jsonl"
        ),
    }


CASES = _cases()
HELD_BACK = ("outside_lookback", "stamped_after_landing")


def raw_checksums(s3, bucket: str) -> dict[str, str]:
    sums = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            sums[obj["Key"]] = hashlib.sha256(body).hexdigest()
    return sums


def run_for(lakehouse, day: date) -> dict:
    return next(r for r in lakehouse.runs() if r["interval_start"] == day.isoformat())


def models_of(run: dict, stage: str) -> dict[str, dict]:
    return {m["name"]: m for m in run["stages"][stage]["models"]}


@pytest.fixture(scope="module")
def bad_day(local_stack):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    sample_data.write_day(s3, bucket, DAY, events=GOOD_EVENTS, seed=5)
    files = {}
    for kind, case in CASES.items():
        key = f"events/dt={DAY}/{case.name or f'bad-{kind}.jsonl'}"
        s3.put_object(Bucket=bucket, Key=key, Body=case.body)
        files[kind] = f"s3://{bucket}/{key}"
    before = raw_checksums(s3, bucket)
    code = run_dag_for_day(stack, DAY, log_name="e2e-quarantine.log")
    run = run_for(lakehouse, DAY)
    return {
        "code": code,
        "run": run,
        "files": files,
        "before": before,
        "quarantine": lakehouse.table("quarantined_events").to_pylist(),
        "fct": {r["event_id"]: r for r in lakehouse.table("fct_events").to_pylist()},
        "lakehouse": lakehouse,
        "s3": s3,
        "bucket": bucket,
        "stack": stack,
    }


def rows_of_file(quarantine: list[dict], source_file: str) -> list[dict]:
    return sorted(
        (r for r in quarantine if r["source_file"] == source_file),
        key=lambda r: r["line_number"] or 0,
    )


def test_the_day_with_bad_input_succeeds(bad_day):
    assert bad_day["code"] == 0, "see e2e-quarantine.log in the stack directory"
    assert bad_day["run"]["status"] == "SUCCEEDED"


def operator_command(stack, endpoint_url: str, tmp_path, *args: str):
    """The operator's command (lakehouse_ops, no local adapter) addressing the stack as a deployed
    environment: its name, an endpoint and the normal credential chain, and no local stack to
    fall back on."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "LAKEHOUSE_STATE_DIR": str(tmp_path / "no-local-stack"),
    }
    for name in ("LAKEHOUSE_ENV", "LAKEHOUSE_RUNS_TABLE", "AWS_PROFILE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "lakehouse_ops.cli", "--env", stack.environment]
    return subprocess.run(
        [*command, "--endpoint-url", endpoint_url, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_operators_command_shows_the_days_quarantine_by_env_and_endpoint(bad_day, tmp_path):
    stack, lakehouse = bad_day["stack"], bad_day["lakehouse"]
    rows = [
        r for r in lakehouse.table("quarantined_events").to_pylist()
        if str(r["landed_on"]) == DAY.isoformat()
    ]  # fmt: skip
    shown = operator_command(
        stack, lakehouse.endpoint_url, tmp_path, "quarantine", "--day", str(DAY), "--limit", "9999"
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == len(rows) + 1
    total, _, counts = lines[-1].partition(f" quarantined line(s) landed on {DAY}: ")
    shown_counts = dict(part.split("=") for part in counts.split(", "))
    assert int(total) == len(rows)
    assert {k: int(v) for k, v in shown_counts.items()} == Counter(r["reason"] for r in rows)
    for row in rows:
        line = "-" if row["line_number"] is None else row["line_number"]
        assert f"{row['source_file']} {line} {row['reason']} " in shown.stdout

    listed = operator_command(stack, lakehouse.endpoint_url, tmp_path, "runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert bad_day["run"]["run_id"] in listed.stdout

    out = tmp_path / "report"
    reported = operator_command(
        stack, lakehouse.endpoint_url, tmp_path, "report", "--out", str(out)
    )
    assert reported.returncode == 0, reported.stderr
    execution = bad_day["run"]["execution_arn"].rsplit(":", 1)[-1]
    assert f'"execution": "{execution}"' in (out / "index.html").read_text()


@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_of_bad_input(bad_day, kind):
    case = CASES[kind]
    rows = rows_of_file(bad_day["quarantine"], bad_day["files"][kind])
    assert [(r["line_number"], r["reason"]) for r in rows] == case.quarantined
    for row in rows:
        assert str(row["landed_on"]) == DAY.isoformat()
        assert row["detail"], row
        assert row["run_id"] == bad_day["run"]["run_id"]
    lines = split_lines(case.body)
    for row in rows:
        if row["line_number"] is not None:  # the raw line as read, bounded
            expected = case.raw_lines.get(row["line_number"])
            if expected is None:
                expected = lines[row["line_number"] - 1].decode().removeprefix("\ufeff")[:4096]
            assert row["raw_line"] == expected
    expected_dispositions = [
        "held_back" if reason in HELD_BACK else "quarantined" for _, reason in case.quarantined
    ]
    assert [r["disposition"] for r in rows] == expected_dispositions
    for event_id in case.good:
        assert event_id in bad_day["fct"], f"{event_id} ({kind}) is not in fct_events"
    quarantined_ids = {
        json.loads(lines[n - 1]).get("event_id")
        for n, reason in case.quarantined
        if n
        and reason
        not in ("malformed_json", "oversized_record", "duplicate_event_id", "invalid_encoding")
    }
    assert not quarantined_ids & set(bad_day["fct"])


def test_details_say_what_is_wrong(bad_day):
    by_file = {
        kind: rows_of_file(bad_day["quarantine"], path) for kind, path in bad_day["files"].items()
    }
    assert "revenue is a string" in by_file["wrong_type_revenue"][0]["detail"]
    assert "the day before yesterday" in by_file["wrong_type_timestamp"][0]["detail"]
    assert "event_ts" in by_file["missing_required_field"][0]["detail"]
    assert "teleport" in by_file["unknown_event_type"][0]["detail"]
    assert "bad-duplicate_event_id.jsonl:1" in by_file["duplicate_event_id"][0]["detail"]
    oversized = by_file["oversized_record"][0]
    assert oversized["line_bytes"] > 65536 and len(oversized["raw_line"]) == 4096


def test_non_ascii_text_and_new_fields_pass_through(bad_day):
    non_ascii = json.loads(bad_day["fct"]["na-1"]["properties"])
    assert non_ascii == {"page": "/café/东京/🎉", "device": "móvil"}
    new_field = bad_day["fct"]["nf-1"]
    assert "campaign" not in new_field  # ignored by staging, still in the raw file
    assert json.loads(new_field["properties"]) == {"page": "/", "extra": 1}
    assert bad_day["fct"]["ut-2"]["event_type"] == "login"


def expected_accounting() -> dict:
    """The landing day's figures, from the cases' bytes: every line of every readable object
    is accepted, quarantined or held back; each unreadable object is one quarantine row."""
    unreadable = sum(1 for c in CASES.values() if c.quarantined[:1] == [(None, "unreadable_file")])
    delivered = GOOD_EVENTS + sum(
        len(split_lines(c.body))
        for c in CASES.values()
        if c.quarantined[:1] != [(None, "unreadable_file")]
    )
    held_back = sum(1 for c in CASES.values() for _, r in c.quarantined if r in HELD_BACK)
    quarantined = sum(len(c.quarantined) for c in CASES.values()) - held_back - unreadable
    return {
        "delivered": delivered,
        "unreadable_objects": unreadable,
        "accepted": delivered - quarantined - held_back,
        "quarantined": quarantined,
        "held_back": held_back,
        # quarantined_events' rows of the day by reason, unreadable objects included
        "reasons": dict(Counter(r for c in CASES.values() for _, r in c.quarantined)),
    }


def test_every_raw_line_is_accounted_for(bad_day):
    """delivered = accepted + quarantined + held back, in the run record of both stages, and
    read back from the tables the run wrote."""
    expected = expected_accounting()
    for stage, stored in (("dbt_staging", {}), ("dbt_marts", {"redelivered": 0})):
        accounting = bad_day["run"]["stages"][stage]["accounting"]
        assert accounting["events"] == {DAY.isoformat(): {**expected, **stored}}
        users = accounting["users"][DAY.isoformat()]
        assert users["delivered"] == users["accepted"] > 0  # the day's export, all good
        assert users["quarantined"] == users["held_back"] == users["unreadable_objects"] == 0
        assert users["reasons"] == {}
    landed = [r for r in bad_day["fct"].values() if str(r["landed_on"]) == DAY.isoformat()]
    assert len(landed) == expected["accepted"]
    rows = [r for r in bad_day["quarantine"] if str(r["landed_on"]) == DAY.isoformat()]
    assert {r["raw_table"] for r in rows} == {"events"}
    assert len(rows) == expected["quarantined"] + expected["held_back"] + 3
    assert sum(r["disposition"] == "held_back" for r in rows) == expected["held_back"]


def test_the_stage_records_count_the_quarantined_lines(bad_day):
    expected = expected_accounting()
    not_accepted = expected["delivered"] - expected["accepted"] + expected["unreadable_objects"]
    staging = models_of(bad_day["run"], "dbt_staging")
    marts = models_of(bad_day["run"], "dbt_marts")
    assert marts["quarantined_events"]["rows"] == not_accepted
    assert staging["stg_raw_event_lines"]["rows"] == (
        expected["delivered"] + expected["unreadable_objects"]
    )
    assert staging["stg_raw_events"]["rows"] == expected["accepted"]
    assert len(bad_day["quarantine"]) == not_accepted
    assert bad_day["run"]["stages"]["tests"]["failed"] == 0


def test_raw_files_are_never_modified(bad_day):
    assert raw_checksums(bad_day["s3"], bad_day["bucket"]) == bad_day["before"]


def test_a_rerun_does_not_duplicate_quarantine_rows(bad_day):
    lakehouse = bad_day["lakehouse"]
    assert run_dag_for_day(bad_day["stack"], DAY, log_name="e2e-quarantine-rerun.log") == 0
    again = lakehouse.table("quarantined_events").to_pylist()
    key = lambda r: (r["source_file"], r["line_number"], r["reason"])  # noqa: E731
    assert sorted(map(key, again)) == sorted(map(key, bad_day["quarantine"]))
    marts = models_of(run_for(lakehouse, DAY), "dbt_marts")
    assert marts["quarantined_events"]["rows"] == len(bad_day["quarantine"])
    assert raw_checksums(bad_day["s3"], bad_day["bucket"]) == bad_day["before"]


def test_a_rerun_after_a_fix_leaves_no_stale_quarantine_row(bad_day):
    """The operator replaces a bad delivery and reruns the day: the quarantine then holds what
    the day's raw data holds now (the fixed file's old rows are gone, every other row stays),
    and the table's previous snapshot still has the old rows."""
    lakehouse, s3, bucket = bad_day["lakehouse"], bad_day["s3"], bad_day["bucket"]
    fixed_file = bad_day["files"]["null_user_id"]
    before = lakehouse.table("quarantined_events").to_pylist()
    assert [r["reason"] for r in before if r["source_file"] == fixed_file] == ["null_user_id"]
    previous_snapshot = lakehouse.iceberg_table("quarantined_events").current_snapshot()

    key = fixed_file.removeprefix(f"s3://{bucket}/")
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(event("nu-1"), event("nu-2")))
    assert run_dag_for_day(bad_day["stack"], DAY, log_name="e2e-quarantine-fixed.log") == 0

    after = lakehouse.table("quarantined_events").to_pylist()
    assert not [r for r in after if r["source_file"] == fixed_file]
    identity = lambda r: (r["source_file"], r["line_number"], r["reason"])  # noqa: E731
    assert sorted(map(identity, after)) == sorted(
        identity(r) for r in before if r["source_file"] != fixed_file
    )
    fct = {r["event_id"] for r in lakehouse.table("fct_events").to_pylist()}
    assert {"nu-1", "nu-2"} <= fct
    table = lakehouse.iceberg_table("quarantined_events")
    history = table.scan(snapshot_id=previous_snapshot.snapshot_id).to_arrow().to_pylist()
    assert [r["reason"] for r in history if r["source_file"] == fixed_file] == ["null_user_id"]
    marts = models_of(run_for(lakehouse, DAY), "dbt_marts")
    assert marts["quarantined_events"]["rows"] == len(after)


def test_a_redelivery_on_a_later_day_keeps_the_first_landing(bad_day):
    lakehouse, s3, bucket = bad_day["lakehouse"], bad_day["s3"], bad_day["bucket"]
    redelivered = event("mj-1", event_type="login", event_ts=f"{DAY}T13:00:00Z")
    fresh = event("rd-1", event_ts=f"{NEXT_DAY}T01:00:00Z")
    s3.put_object(
        Bucket=bucket, Key=f"events/dt={NEXT_DAY}/part-00000.jsonl", Body=jsonl(redelivered, fresh)
    )
    assert run_dag_for_day(bad_day["stack"], NEXT_DAY, log_name="e2e-redelivery.log") == 0
    fct = {r["event_id"]: r for r in lakehouse.table("fct_events").to_pylist()}
    assert fct["mj-1"]["landed_on"] == DAY.isoformat()  # the first landing, unchanged
    assert fct["mj-1"]["event_type"] == "page_view"
    assert fct["rd-1"]["landed_on"] == NEXT_DAY.isoformat()
    run = run_for(lakehouse, NEXT_DAY)
    # The redelivery is a valid event: accepted by the parse (which reads the interval's raw
    # data alone), not written again by the merge, and counted as redelivered by the marts'
    # accounting, so the day's lines still add up (2 accepted, one of them redelivered).
    assert models_of(run, "dbt_staging")["stg_raw_events"]["rows"] == 2
    assert not [
        r
        for r in lakehouse.table("quarantined_events").to_pylist()
        if str(r["landed_on"]) == NEXT_DAY.isoformat()
    ]
    counts = {
        "delivered": 2, "unreadable_objects": 0, "accepted": 2, "quarantined": 0, "reasons": {},
    }  # fmt: skip
    assert run["stages"]["dbt_staging"]["accounting"]["events"] == {
        NEXT_DAY.isoformat(): {**counts, "held_back": 0}
    }
    assert run["stages"]["dbt_marts"]["accounting"]["events"] == {
        NEXT_DAY.isoformat(): {**counts, "held_back": 0, "redelivered": 1}
    }


@pytest.fixture(scope="module")
def garbage_day(bad_day):
    """A day where most lines are garbage: the default threshold fails the run."""
    lakehouse, s3, bucket = bad_day["lakehouse"], bad_day["s3"], bad_day["bucket"]
    good = [event(f"gd-{i}", event_ts=f"{GARBAGE_DAY}T0{i % 10}:00:00Z") for i in range(20)]
    body = jsonl(*good, *[b"<html>502 Bad Gateway</html>"] * 30)
    s3.put_object(Bucket=bucket, Key=f"events/dt={GARBAGE_DAY}/part-00000.jsonl", Body=body)
    snapshots = {m: lakehouse.iceberg_table(m).current_snapshot().snapshot_id for m in MARTS}
    lakehouse.alerts()  # start from an empty inbox
    code = run_dag_for_day(bad_day["stack"], GARBAGE_DAY, log_name="e2e-garbage.log")
    return code, run_for(lakehouse, GARBAGE_DAY), snapshots


def test_too_much_bad_input_fails_the_run_before_the_marts_change(bad_day, garbage_day):
    code, run, snapshots = garbage_day
    lakehouse = bad_day["lakehouse"]
    assert code != 0
    assert run["status"] == "FAILED" and run["failed_stage"] == "dbt_marts"
    cause = run["cause"]
    assert "Too many bad raw event lines: 30 of 50 (share 0.6000)" in cause
    assert "exceed max_bad_row_share 0.05" in cause
    assert "malformed_json=30" in cause and "quarantined_events" in cause
    assert "The marts were not changed" in cause
    assert cause.count("Too many bad raw event lines") == 1  # said once for all guarded marts
    for mart, snapshot_id in snapshots.items():
        assert lakehouse.iceberg_table(mart).current_snapshot().snapshot_id == snapshot_id, mart
    quarantine = lakehouse.table("quarantined_events")
    of_day = quarantine.filter(pc.equal(quarantine["landed_on"], GARBAGE_DAY))
    assert of_day.num_rows == 30  # written, so the user can see why
    assert set(of_day["line_number"].to_pylist()) == set(range(21, 51))
    assert any("Too many bad raw event lines" in a["Message"] for a in lakehouse.alerts())


def test_a_higher_threshold_lets_the_day_through(bad_day, garbage_day):
    lakehouse = bad_day["lakehouse"]
    code = run_dag_for_day(
        bad_day["stack"], GARBAGE_DAY, "e2e-garbage-raised.log", {"max_bad_row_share": 0.7}
    )
    assert code == 0
    run = run_for(lakehouse, GARBAGE_DAY)
    assert run["status"] == "SUCCEEDED"
    assert models_of(run, "dbt_marts")["fct_events"]["rows"] == 20
    fct = lakehouse.table("fct_events")
    assert pc.sum(pc.equal(fct["landed_on"], GARBAGE_DAY.isoformat())).as_py() == 20
    quarantine = lakehouse.table("quarantined_events")
    assert pc.sum(pc.equal(quarantine["landed_on"], GARBAGE_DAY)).as_py() == 30  # not doubled


USERS_DAY = date(2026, 11, 9)


def user(uid: str, **overrides) -> dict:
    record = {
        "user_id": uid,
        "email": f"{uid}@example.com",
        "country": "de",
        "plan": "free",
        "signed_up_at": "2026-01-02T03:04:05Z",
        "updated_at": f"{USERS_DAY}T10:00:00Z",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not _DROP}


def test_the_users_export_is_validated_line_by_line(bad_day):
    """A malformed users line once failed the run with a stack trace: each line is now
    accepted or quarantined with its reason, and the good users reach dim_users."""
    lakehouse, s3, bucket = bad_day["lakehouse"], bad_day["s3"], bad_day["bucket"]
    body = jsonl(
        user("ux-1"),
        b'{"user_id": "ux-2", "email": ',  # cut short
        user("ux-3", email=_DROP),
        user("ux-4", updated_at="yesterday"),
        user("ux-5", user_id=""),
        user("ux-6", plan=None),
    )
    key = f"users/dt={USERS_DAY}/export.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    good = event("ux-e1", event_ts=f"{USERS_DAY}T01:00:00Z", user_id="ux-1")
    s3.put_object(Bucket=bucket, Key=f"events/dt={USERS_DAY}/part-0.jsonl", Body=jsonl(good))
    assert run_dag_for_day(bad_day["stack"], USERS_DAY, log_name="e2e-users.log") == 0
    rows = rows_of_file(lakehouse.table("quarantined_events").to_pylist(), f"s3://{bucket}/{key}")
    assert [(r["line_number"], r["reason"], r["raw_table"]) for r in rows] == [
        (2, "malformed_json", "users"),
        (3, "missing_required_field", "users"),
        (4, "wrong_type", "users"),
        (5, "missing_required_field", "users"),
    ]
    assert "email" in rows[1]["detail"] and "yesterday" in rows[2]["detail"]
    users = {r["user_id"]: r for r in lakehouse.table("dim_users").to_pylist()}
    assert {"ux-1", "ux-6"} <= set(users) and not {"ux-3", "ux-4", "ux-5"} & set(users)
    assert users["ux-6"]["plan"] is None
    accounting = run_for(lakehouse, USERS_DAY)["stages"]["dbt_marts"]["accounting"]
    assert accounting["users"] == {
        USERS_DAY.isoformat(): {
            "delivered": 6,
            "unreadable_objects": 0,
            "accepted": 2,
            "quarantined": 4,
            "held_back": 0,
            "reasons": {"malformed_json": 1, "missing_required_field": 2, "wrong_type": 1},
        }
    }
