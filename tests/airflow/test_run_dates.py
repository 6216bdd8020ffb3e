"""What Airflow 3.3.1 does with this DAG's dates, and the run of a day the foreground runner
(local/foreground_run.py, the demo's and `runs rerun`'s run without a scheduler) creates:
the rule docs/runbooks.md states, checked against the DAG's real timetable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.unit]
DAGS = Path(__file__).resolve().parents[2] / "dags"
DAY = date(2026, 11, 20)


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def timetable():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = DagBag(dag_folder=str(DAGS)).dags["lakehouse_raw_to_curated"]
    return coerce_to_core_timetable(dag.timetable)


def test_the_scheduled_run_of_a_day_has_that_days_logical_date_and_interval(timetable):
    from local.foreground_run import day_run_info

    info = day_run_info(timetable, DAY)
    assert info.logical_date == at(20)
    assert (info.data_interval.start, info.data_interval.end) == (at(20), at(21))
    # run_after, which scheduled and backfill run ids carry, is the day after.
    assert info.run_after == at(21)


def test_a_manual_logical_date_processes_the_interval_that_ended_then(timetable):
    # `dags test`/`dags trigger` with logical date L: the day before L's 06:00. So the day's
    # logical date 20 Nov 06:00, given by hand, would process 19 Nov: why the runner takes the
    # scheduler's interval instead.
    interval = timetable.infer_manual_data_interval(run_after=at(20))
    assert (interval.start, interval.end) == (at(19), at(20))
    interval = timetable.infer_manual_data_interval(run_after=at(21, 5))
    assert (interval.start, interval.end) == (at(19), at(20))


def test_a_backfill_takes_the_runs_whose_logical_date_falls_on_its_days(timetable):
    from airflow.timetables.base import TimeRestriction

    infos, last = [], None
    restriction = TimeRestriction(at(19, 0), datetime(2026, 11, 21, 23, 59, 59, tzinfo=UTC), True)
    while last := timetable.next_dagrun_info_v2(last_dagrun_info=last, restriction=restriction):
        infos.append(last)
    assert [i.data_interval.start.date() for i in infos] == [
        date(2026, 11, d) for d in (19, 20, 21)
    ]
