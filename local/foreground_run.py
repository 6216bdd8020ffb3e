"""Run the DAG's run of one day in the foreground, without a scheduler (Airflow's `dags test`),
created as the scheduler creates that day's run.

  .venvs/airflow/bin/python local/foreground_run.py DAG_ID DAY [--conf JSON]

Runs with the Airflow virtualenv's interpreter and local.airflow's environment (it imports
Airflow only). `airflow dags test DAG L` alone gets a day's run wrong twice over (Airflow 3.3.1,
`DAG.test`): it infers the data interval from L the way a *manual* trigger does (the period that
ended at L, so L = D 06:00 processes D-1), and it starts the run at L, so the UI shows the run
lasting from its logical date until now. Here the day's logical date and data interval come
from the DAG's own timetable, exactly as for the scheduled or backfill run of that day
(`next_dagrun_info_v2`, the scheduler's call), and the run starts when it really starts.

Like `dags test`, it replaces the DAG run that has the same logical date (that day's scheduled
or backfill run) in Airflow's database; the run ledger keeps the replaced run's record.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock


def day_run_info(timetable, day: date):
    """The scheduler's DagRunInfo for the run whose logical date falls on `day`."""
    from airflow.timetables.base import TimeRestriction

    earliest = datetime.combine(day, time.min, tzinfo=UTC)
    latest = earliest + timedelta(days=1) - timedelta(microseconds=1)
    info = timetable.next_dagrun_info_v2(
        last_dagrun_info=None,
        restriction=TimeRestriction(earliest=earliest, latest=latest, catchup=True),
    )
    if info is None or info.data_interval is None:
        raise SystemExit(f"the DAG's timetable schedules no run on {day}")
    if info.data_interval.start.date() != day:
        raise SystemExit(
            f"the DAG's run on {day} processes {info.data_interval.start.date()}: "
            "this runner assumes a daily data interval starting on its logical date's day"
        )
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("day", type=date.fromisoformat)
    parser.add_argument("--conf", type=json.loads, default=None, help="the run's params (JSON)")
    args = parser.parse_args(argv)

    from airflow.models import dagrun
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.utils import timezone
    from airflow.utils.cli import get_bagged_dag

    dag = get_bagged_dag(bundle_names=None, dag_id=args.dag_id)
    info = day_run_info(coerce_to_core_timetable(dag.timetable), args.day)
    create = dagrun.get_or_create_dagrun
    created = []

    def as_scheduled(**kwargs):
        # DAG.test passes the manual-trigger interval and start_date=logical_date; the run of
        # the day gets the scheduler's interval and starts now.
        kwargs.update(data_interval=info.data_interval, start_date=timezone.utcnow())
        run = create(**kwargs)
        created.append(run)
        return run

    # DAG.test imports get_or_create_dagrun from its module when it runs: patch it there.
    with mock.patch.object(dagrun, "get_or_create_dagrun", as_scheduled):
        run = dag.test(logical_date=info.logical_date, run_conf=args.conf)
    if not created:
        # A newer Airflow that creates the run some other way would run the wrong interval.
        raise SystemExit("DAG.test did not create its run through get_or_create_dagrun")
    print(
        f"DAG run {run.run_id}: {run.state} (day {args.day}, logical date "
        f"{info.logical_date.isoformat()}, data interval {info.data_interval.start.isoformat()}"
        f" -> {info.data_interval.end.isoformat()})",
        flush=True,
    )
    return 1 if str(run.state) in ("failed", "DagRunState.FAILED") else 0


if __name__ == "__main__":
    sys.exit(main())
