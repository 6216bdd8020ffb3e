"""On-arrival runs: the day a landed raw file belongs to, from the S3 events its run consumed."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lakehouse.arrivals import InvalidArrival, arrived_days, day_of_key, keys_of_message
from lakehouse.run_plan import InvalidRunParams, plan_run

pytestmark = pytest.mark.unit


def s3_event(*keys: str, event: str = "ObjectCreated:Put") -> str:
    """An SQS message body as S3 sends it (keys URL-encoded, as S3 encodes them)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": event,
                    "s3": {"bucket": {"name": "raw"}, "object": {"key": key, "size": 1}},
                }
                for key in keys
            ]
        }
    )


def asset_event(*bodies: str) -> dict:
    """An asset event's extra as Airflow stores what the SQS trigger yielded."""
    batch = [{"MessageId": str(i), "Body": body} for i, body in enumerate(bodies)]
    return {"from_trigger": True, "payload": {"status": "success", "message_batch": batch}}


@pytest.mark.parametrize(
    "key",
    [
        "events/dt=2026-03-04/part-00000.jsonl",
        "users/dt=2026-03-04/users.jsonl",
        "events/dt%3D2026-03-04/part-00001.jsonl",  # as S3 event notifications encode it
    ],
)
def test_the_day_is_the_key_s_partition(key):
    assert day_of_key(key) == date(2026, 3, 4)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("events/part-00000.jsonl", "is not <dataset>/dt=YYYY-MM-DD/<file>"),
        ("events/2026-03-04/part.jsonl", "is not <dataset>/dt=YYYY-MM-DD/<file>"),
        ("orders/dt=2026-03-04/part.jsonl", "with a dataset of events, users"),
        ("events/dt=2026-03-04/nested/part.jsonl", "is not <dataset>/dt="),
        ("events/dt=2026-02-30/part.jsonl", "dt=2026-02-30 is not a calendar day"),
        ("events/dt=20260304/part.jsonl", "dt=20260304 is not a calendar day"),
        ("events/dt=2026-3-4/part.jsonl", "dt=2026-3-4 is not a calendar day"),
        ("events/dt=/part.jsonl", "is not <dataset>/dt="),
    ],
)
def test_a_key_without_a_day_is_refused_by_name(key, reason):
    with pytest.raises(InvalidArrival, match="raw object") as error:
        day_of_key(key)
    assert reason in str(error.value) and key.split("/")[0] in str(error.value)
    # The run plan's error type: the run fails in plan_run with this message.
    assert isinstance(error.value, ValueError)


def test_only_created_objects_count_and_the_test_event_names_none():
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "raw"})
    assert keys_of_message(test_event) == []
    removed = s3_event("events/dt=2026-03-04/p.jsonl", event="ObjectRemoved:Delete")
    assert keys_of_message(removed) == []
    with pytest.raises(InvalidArrival, match="without an object key"):
        keys_of_message(json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}))


def test_many_files_of_one_day_make_one_day_and_days_are_sorted():
    events = [
        asset_event(
            s3_event("events/dt=2026-03-04/part-00000.jsonl", "users/dt=2026-03-04/u.jsonl"),
            s3_event("events/dt=2026-03-04/part-00001.jsonl"),
        ),
        asset_event(s3_event("events/dt=2026-03-01/part-00000.jsonl")),
    ]
    assert arrived_days(events) == [date(2026, 3, 1), date(2026, 3, 4)]
    assert arrived_days([asset_event(json.dumps({"Event": "s3:TestEvent"}))]) == []


def test_one_bad_key_among_good_ones_fails_rather_than_guessing():
    events = [asset_event(s3_event("events/dt=2026-03-04/a.jsonl", "events/latest/b.jsonl"))]
    with pytest.raises(InvalidArrival, match="events/latest/b.jsonl"):
        arrived_days(events)


def test_an_on_arrival_run_covers_the_days_its_files_belong_to():
    run_id = "asset_triggered__2026-11-20T09:13:02+00:00"
    late = plan_run("p", run_id, None, None, {}, arrived_days=[date(2026, 3, 4)])
    assert (late.interval_start, late.interval_end) == ("2026-03-04", "2026-03-05")
    spread = plan_run(
        "p", run_id, None, None, {}, arrived_days=[date(2026, 3, 1), date(2026, 3, 4)]
    )
    assert (spread.interval_start, spread.interval_end) == ("2026-03-01", "2026-03-05")
    # The run options still apply and are still validated; explicit params win.
    chosen = {"interval_start": "2026-01-01", "interval_end": "2026-01-02"}
    assert (
        plan_run("p", run_id, None, None, chosen, arrived_days=[date(2026, 3, 4)]).interval_start
        == "2026-01-01"
    )
    with pytest.raises(InvalidRunParams, match="name no raw file"):
        plan_run("p", run_id, None, None, {}, arrived_days=[])
    with pytest.raises(InvalidRunParams, match="partitions in one Athena query"):
        plan_run("p", run_id, None, None, {}, arrived_days=[date(2026, 1, 1), date(2026, 6, 1)])
