import json
from datetime import date

import pytest

from local import sample_data

pytestmark = pytest.mark.unit


class FakeS3:
    """Collects put_object calls (the generator's only S3 call)."""

    def __init__(self):
        self.objects = {}

    def put_object(self, Bucket, Key, Body):  # noqa: N803 - boto3's argument names
        self.objects[(Bucket, Key)] = Body


def lines(s3, prefix):
    return [
        json.loads(line)
        for (_, key), body in sorted(s3.objects.items())
        if key.startswith(prefix)
        for line in body.splitlines()
    ]


def test_same_seed_same_bytes_other_seed_other_bytes():
    a, b, c = FakeS3(), FakeS3(), FakeS3()
    sample_data.write_day(a, "raw", date(2026, 11, 20), 500, seed=1)
    sample_data.write_day(b, "raw", date(2026, 11, 20), 500, seed=1)
    sample_data.write_day(c, "raw", date(2026, 11, 20), 500, seed=2)
    assert a.objects == b.objects
    assert a.objects != c.objects


def test_events_are_realistic_and_partitioned_by_day(monkeypatch):
    monkeypatch.setattr(sample_data, "PART_LINES", 300)  # force several part files
    s3 = FakeS3()
    reports = []
    written = sample_data.write_day(
        s3, "raw", date(2026, 11, 20), 1000, seed=7, progress=lambda *r: reports.append(r)
    )
    assert [done for _, done, _ in reports] == [300, 600, 900, 1000]  # one report per part
    events = lines(s3, "events/dt=2026-11-20/")
    users = lines(s3, "users/dt=2026-11-20/")
    assert len(events) == written.events == 1000
    assert len([k for _, k in s3.objects if k.startswith("events/")]) == 4
    assert len({e["event_id"] for e in events}) == 1000
    assert {e["event_type"] for e in events} == set(sample_data.EVENT_TYPES)
    stamped = {e["event_ts"][:10] for e in events}
    assert stamped == {"2026-11-18", "2026-11-19", "2026-11-20"}  # late ones 1-2 days early
    late = sum(1 for e in events if not e["event_ts"].startswith("2026-11-20"))
    assert 0 < late < 0.05 * len(events)
    purchases = [e for e in events if e["event_type"] == "purchase"]
    assert purchases and all(5 <= e["revenue"] <= 500 for e in purchases)
    assert all("revenue" not in e for e in events if e["event_type"] != "purchase")
    # every user who acted that day is in that day's users export, exactly once
    assert {u["user_id"] for u in users} == {e["user_id"] for e in events}
    assert len(users) == written.users


def test_late_events_can_be_turned_off():
    s3 = FakeS3()
    sample_data.write_day(s3, "raw", date(2026, 11, 20), 500, seed=7, late_share=0)
    assert all(e["event_ts"].startswith("2026-11-20T") for e in lines(s3, "events/"))
