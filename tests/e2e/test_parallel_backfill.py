"""Runs of different days at the same time converge to the serial build.

Six days of raw data with late events, a redelivered event (the same event_id landing on two
days, the later landing started first) and overlapping merge windows (lookback 2), plus a
rerun of one day while the others run: started on the real state machine three executions at
a time, in an order that is not the days' order. Every mart must then equal a serial build of
the same days, one run after the other in day order, from empty marts. Each run reads its own
relations (run-scoped staging) and merges under the marts lease, so completion order cannot
matter.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from benchmarks.transform import execute_all
from local import sample_data
from tests.marts import MARTS, fingerprint

pytestmark = [pytest.mark.e2e, pytest.mark.cost(6)]
FIRST = date(2026, 3, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(6)]
AT_A_TIME = 3
REDELIVERED_ON = DAYS[3]  # an event of DAYS[1] lands again (and is started first)
RERUN = DAYS[2]


def run_all(lakehouse, runs: list[tuple[str, date]], at_a_time: int) -> dict[str, str]:
    """Each run's final status, `at_a_time` executions at once (the DAG's run plan and ledger
    record, the real state machine)."""
    ended = execute_all(
        lakehouse, [(run_id, day, day + timedelta(days=1)) for run_id, day in runs], at_a_time
    )
    return {run_id: outcome["status"] for run_id, outcome in ended.items()}


def drop_marts(lakehouse) -> None:
    database = lakehouse.resources["names"]["curated_database"]
    for name in MARTS:
        lakehouse.catalog.drop_table((database, name))


def overlapping(stages: list[tuple[str, str]]) -> bool:
    ordered = sorted(stages)
    return any(later[0] < earlier[1] for earlier, later in zip(ordered, ordered[1:], strict=False))


@pytest.fixture(scope="module")
def builds(local_stack):
    _, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    bucket = provisioned.names.raw_bucket
    for day in DAYS:
        sample_data.write_day(s3, bucket, day, events=400, seed=300 + day.day)
    first_landing = next(sample_data.events_for_day(DAYS[1], 1, seed=300 + DAYS[1].day))
    again = {**first_landing, "event_type": "login"}  # a changed copy: the first landing wins
    s3.put_object(
        Bucket=bucket,
        Key=f"events/dt={REDELIVERED_ON}/redelivery.jsonl",
        Body=(json.dumps(again) + "\n").encode(),
    )

    # Not in day order (the redelivery before the first landing), and one day twice: a rerun
    # while other days run.
    order = [DAYS[n] for n in (3, 5, 1, 0, 4, 2)]
    parallel = [(f"parallel__{day}", day) for day in order] + [(f"rerun__{RERUN}", RERUN)]
    parallel_statuses = run_all(lakehouse, parallel, AT_A_TIME)
    parallel_print = fingerprint(lakehouse)
    stages = [
        (run["stages"]["dbt_staging"]["started_at"], run["stages"]["dbt_staging"]["ended_at"])
        for run in lakehouse.runs()
        if run["run_id"].startswith(("parallel__", "rerun__"))
    ]

    drop_marts(lakehouse)
    serial = [(f"serial__{day}", day) for day in DAYS]
    serial_statuses = run_all(lakehouse, serial, 1)
    return {
        "parallel": parallel_statuses,
        "serial": serial_statuses,
        "parallel_print": parallel_print,
        "serial_print": fingerprint(lakehouse),
        "stages": stages,
        "redelivered": first_landing["event_id"],
        "lakehouse": lakehouse,
    }


def test_every_run_succeeds_and_runs_really_overlapped(builds):
    assert set(builds["parallel"].values()) == {"SUCCEEDED"}, builds["parallel"]
    assert set(builds["serial"].values()) == {"SUCCEEDED"}, builds["serial"]
    # Raw was parsed by several runs at the same time (each into relations of its own).
    assert len(builds["stages"]) == len(DAYS) + 1
    assert overlapping(builds["stages"])


def test_the_parallel_build_equals_the_serial_build(builds):
    assert builds["parallel_print"] == builds["serial_print"]
    counts = {name: rows for name, (rows, _) in builds["serial_print"].items()}
    assert counts["fct_events"] == 400 * len(DAYS)  # the redelivery is not a second row
    assert counts["daily_metrics"] >= len(DAYS)


def test_the_redelivered_event_keeps_its_first_landing(builds):
    fct = builds["lakehouse"].table("fct_events").to_pylist()
    rows = [r for r in fct if r["event_id"] == builds["redelivered"]]
    assert len(rows) == 1 and str(rows[0]["landed_on"]) == DAYS[1].isoformat()
    assert rows[0]["event_type"] != "login"
    # Accepted by its day's parse in both builds (the parse reads only its interval's raw, so
    # it cannot depend on which run merged first), never a quarantine row; the serial run of
    # the later day finds the first landing already stored and counts the line as redelivered.
    quarantine = builds["lakehouse"].table("quarantined_events").to_pylist()
    assert not [r for r in quarantine if str(r["landed_on"]) == REDELIVERED_ON.isoformat()]
    serial = next(
        r for r in builds["lakehouse"].runs() if r["run_id"] == f"serial__{REDELIVERED_ON}"
    )
    figures = serial["stages"]["dbt_marts"]["accounting"]["events"][REDELIVERED_ON.isoformat()]
    assert figures["redelivered"] == 1 and figures["quarantined"] == 0
