"""Redelivered events through the real DAG: an event that lands again on a later day, stamped
on that day (outside the first landing's merge window), stays one row in fct_events, the one of
its first landing, whichever day is run first; daily_metrics counts it once, on that day; the
`unique` test passes on every run; a full refresh from raw gives the same tables."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from local.demo import run_dag_for_day
from tests.marts import fingerprint

# cost: seven DAG runs of a few events each
pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]
# lookback_days is 2 (the DAG's default): a day 5 days later is outside the first day's window.
FIRST = date(2026, 10, 1)  # case 1, in order: FIRST, then REDELIVERED
REDELIVERED = FIRST + timedelta(days=5)
EARLY = date(2026, 10, 11)  # case 2, out of order: LATE and ALONE first, then EARLY
LATE = EARLY + timedelta(days=5)
ALONE = EARLY + timedelta(days=7)  # its only event is a redelivery of one landed on EARLY


def event(event_id: str, day: date, event_type: str = "page_view", revenue=None, user="u1"):
    record = {
        "event_id": event_id,
        "user_id": user,
        "event_type": event_type,
        "event_ts": f"{day}T12:00:00.000000Z",
        "properties": {"page": "/"},
    }
    if revenue is not None:
        record["revenue"] = revenue
    return record


RAW = {
    FIRST: [event("r-1", FIRST, "purchase", 10.0), event("a-1", FIRST, user="u2")],
    REDELIVERED: [
        event("r-1", REDELIVERED, "purchase", 10.0),  # restamped to its redelivery day
        event("b-1", REDELIVERED, "purchase", 5.0, user="u3"),
    ],
    LATE: [event("s-1", LATE, "purchase", 20.0), event("c-1", LATE, user="u2")],
    ALONE: [event("w-1", ALONE, "purchase", 7.0, user="u4")],
    EARLY: [
        event("s-1", EARLY, "purchase", 20.0),
        event("w-1", EARLY, "purchase", 7.0, user="u4"),
        event("d-1", EARLY, "login", user="u5"),
    ],
}


def run_for(lakehouse, day: date) -> dict:
    return next(r for r in lakehouse.runs() if r["interval_start"] == day.isoformat())


def marts_rows(run: dict) -> dict[str, int]:
    return {m["name"]: m["rows"] for m in run["stages"]["dbt_marts"]["models"]}


def facts(lakehouse) -> dict[str, list[dict]]:
    """event_id -> every fct_events row holding it."""
    held: dict[str, list[dict]] = {}
    for row in lakehouse.table("fct_events").to_pylist():
        held.setdefault(row["event_id"], []).append(row)
    return held


def metrics(lakehouse) -> dict[date, dict]:
    rows = lakehouse.table("daily_metrics").to_pylist()
    assert len(rows) == len({r["event_date"] for r in rows}), "daily_metrics repeats a day"
    return {r["event_date"]: r for r in rows}


@pytest.fixture(scope="module")
def lakehouse_with(local_stack):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    for day, records in RAW.items():
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
        key = f"events/dt={day}/part-00000.jsonl"
        s3.put_object(Bucket=provisioned.names.raw_bucket, Key=key, Body=body)

    def run(day: date, log: str) -> dict:
        assert run_dag_for_day(stack, day, log_name=log) == 0, f"see {log} in {stack.dir}"
        record = run_for(lakehouse, day)
        assert record["status"] == "SUCCEEDED"
        assert record["stages"]["tests"]["failed"] == 0  # fct_events' unique test included
        return record

    return lakehouse, run


def one_row(held: dict[str, list[dict]], event_id: str) -> dict:
    rows = held[event_id]
    assert len(rows) == 1, f"{event_id} is held {len(rows)} times: {rows}"
    return rows[0]


def test_in_order_the_redelivery_on_a_later_day_is_not_loaded_again(lakehouse_with):
    lakehouse, run = lakehouse_with
    run(FIRST, "e2e-redelivery-first.log")
    record = run(REDELIVERED, "e2e-redelivery-again.log")
    held = facts(lakehouse)
    assert all(len(rows) == 1 for rows in held.values())
    first = one_row(held, "r-1")
    assert (first["landed_on"], first["event_date"]) == (FIRST.isoformat(), FIRST)
    assert marts_rows(record)["fct_events"] == 1  # b-1 only: r-1 lost to its first landing
    assert marts_rows(record)["fct_events_moves"] == 0
    by_day = metrics(lakehouse)
    assert (by_day[FIRST]["events"], by_day[FIRST]["revenue"]) == (2, Decimal("10.00"))
    assert (by_day[REDELIVERED]["events"], by_day[REDELIVERED]["revenue"]) == (1, Decimal("5.00"))


def test_out_of_order_the_first_landing_takes_the_event_from_the_later_day(lakehouse_with):
    lakehouse, run = lakehouse_with
    run(LATE, "e2e-redelivery-late.log")
    run(ALONE, "e2e-redelivery-alone.log")
    held = facts(lakehouse)
    assert one_row(held, "s-1")["event_date"] == LATE
    assert one_row(held, "w-1")["event_date"] == ALONE
    assert metrics(lakehouse)[ALONE]["events"] == 1

    record = run(EARLY, "e2e-redelivery-early.log")
    held = facts(lakehouse)
    assert all(len(rows) == 1 for rows in held.values())
    for event_id in ("s-1", "w-1", "d-1"):
        row = one_row(held, event_id)
        assert (row["landed_on"], row["event_date"]) == (EARLY.isoformat(), EARLY), event_id
    assert one_row(held, "c-1")["event_date"] == LATE
    rows = marts_rows(record)
    assert rows["fct_events"] == 3 and rows["fct_events_moves"] == 2
    by_day = metrics(lakehouse)
    early, late = by_day[EARLY], by_day[LATE]
    assert (early["events"], early["purchases"], early["revenue"]) == (3, 2, Decimal("27.00"))
    # the days the events left, outside EARLY's merge window, recomputed by the same run: ALONE
    # has no event left, so no row (as a full refresh would leave it)
    assert (late["events"], late["purchases"], late["revenue"]) == (1, 0, Decimal("0.00"))
    assert ALONE not in by_day


def test_rerunning_the_later_day_after_the_move_changes_nothing(lakehouse_with):
    lakehouse, run = lakehouse_with
    before_facts, before_metrics = facts(lakehouse), metrics(lakehouse)
    record = run(LATE, "e2e-redelivery-late-rerun.log")
    assert facts(lakehouse) == before_facts
    assert metrics(lakehouse) == before_metrics
    assert marts_rows(record)["fct_events_moves"] == 0


def test_a_full_refresh_from_raw_gives_the_same_tables(lakehouse_with, local_stack):
    lakehouse, run = lakehouse_with
    marts = {"fct_events": ("event_id",), "daily_metrics": ("event_date",)}
    before = fingerprint(lakehouse, marts)
    stack = local_stack[0]
    # Read as one interval, every raw day: each redelivery is accepted by the parse, and
    # fct_events' ranking keeps the first landing, as the day-by-day merges did.
    code = run_dag_for_day(stack, EARLY, "e2e-redelivery-refresh.log", {"full_refresh": True})
    assert code == 0, f"see e2e-redelivery-refresh.log in {stack.dir}"
    assert fingerprint(lakehouse, marts) == before


def test_rebuilding_fct_events_alone_from_raw_gives_the_same_tables(lakehouse_with, local_stack):
    """full_refresh_models parses every raw day for fct_events; quarantined_events still
    replaces only the run's own landing days, and every line still adds up."""
    lakehouse, run = lakehouse_with
    marts = {"fct_events": ("event_id",), "daily_metrics": ("event_date",)}
    before = fingerprint(lakehouse, marts)
    quarantine = sorted(
        (r["source_file"], r["line_number"], r["reason"])
        for r in lakehouse.table("quarantined_events").to_pylist()
    )
    stack = local_stack[0]
    conf = {"full_refresh_models": ["fct_events"]}
    code = run_dag_for_day(stack, LATE, "e2e-redelivery-refresh-facts.log", conf)
    assert code == 0, f"see e2e-redelivery-refresh-facts.log in {stack.dir}"
    assert fingerprint(lakehouse, marts) == before
    after = sorted(
        (r["source_file"], r["line_number"], r["reason"])
        for r in lakehouse.table("quarantined_events").to_pylist()
    )
    assert after == quarantine
    record = next(r for r in lakehouse.runs() if r.get("full_refresh_models"))
    accounting = record["stages"]["dbt_marts"]["accounting"]["events"]
    assert set(accounting) == {str(day) for day in RAW}  # every raw day was parsed
    assert all(
        f["delivered"] == f["accepted"] + f["quarantined"] + f["held_back"]
        for f in accounting.values()
    )
