"""The local stack's Airflow as `scripts/lakehouse runs rerun|redrive|backfill` act through it
(lakehouse_ops/cli.py, plugins/lakehouse/runs_cli.py's `act`): its CLI, against the metadata
database that `make airflow`'s scheduler and foreground runs share.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date

from local import airflow
from local.airflow import DAG_ID

LOCKED_RETRIES = 8


def _cause(result: subprocess.CompletedProcess) -> str:
    """The line of a failed CLI call that says why: SQLAlchemy ends its errors with a link to
    its docs, so the last line alone says nothing."""
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line and "Background on this error" not in line]
    return (errors or lines or [f"exit code {result.returncode}"])[-1][:500]


class LocalAirflow:
    """The local stack's Airflow, through its CLI (scripts/airflow): the metadata database is
    shared by `make airflow`'s scheduler and by foreground runs, so this works whether or not
    the scheduler is up. See runs_cli.act for what each method must do."""

    watch = "the Airflow UI (make airflow, http://127.0.0.1:8080 by default)"

    def __init__(self, stack):
        self.stack = stack

    def _cli(self, *args: str) -> subprocess.CompletedProcess:
        return airflow.run(list(args), stack=self.stack, capture_output=True, text=True)

    def _checked(self, *args: str) -> str:
        # The local metadata database is SQLite (MWAA: PostgreSQL). In WAL mode a CLI
        # transaction that read first and then writes fails at once with "database is locked"
        # when the scheduler committed in between: SQLite's busy timeout does not apply to that
        # upgrade. The transaction rolled back, so running the command again is safe.
        for attempt in range(LOCKED_RETRIES + 1):
            result = self._cli(*args)
            if result.returncode == 0 or "database is locked" not in result.stderr:
                break
            time.sleep(min(2**attempt, 15))
        if result.returncode != 0:
            from lakehouse.mwaa_airflow import (
                AirflowUnavailable,  # plugins/ is on sys.path (lakehouse_ops.cli)
            )

            raise AirflowUnavailable(
                f"airflow {' '.join(args[:2])} failed: {_cause(result)} "
                f"(Airflow's logs: {self.stack.dir / 'airflow'})"
            )
        return result.stdout

    def scheduler_running(self) -> bool:
        # `jobs check` goes by heartbeats, which a busy machine delays past its threshold; a
        # foreground run next to a live scheduler would delete a run under it (as `dags test`
        # does) and crash it. The stack records the Airflow it started: that one is trusted.
        started_here = any(p.role == "airflow" for p in self.stack.registry.processes())
        if not started_here:
            result = self._cli(
                "jobs", "check", "--job-type", "SchedulerJob", "--allow-multiple", "--limit", "10"
            )  # fmt: skip
            if result.returncode != 0:
                return False
        # A paused DAG's cleared or triggered runs would wait for an unpause: run them here.
        details = self._cli("dags", "details", DAG_ID, "-o", "json")
        found = [line for line in details.stdout.splitlines() if line.startswith("[{")]
        # The CLI's JSON gives the flag as a string ("True").
        paused = str(json.loads(found[0])[0]["is_paused"]) == "True" if found else True
        return details.returncode == 0 and not paused

    def clear(self, run_id: str) -> bool:
        out = self._checked("dags", "clear", DAG_ID, "--run-id", run_id, "--yes")
        return "No matching Dag runs found" not in out

    def trigger(self, conf: dict) -> str:
        out = self._checked("dags", "trigger", DAG_ID, "--conf", json.dumps(conf), "-o", "json")
        # The CLI prints warnings (log lines, "[warning ]") before its one-line JSON list.
        created = next(line for line in out.splitlines() if line.startswith("[{"))
        return json.loads(created)[0]["dag_run_id"]

    def backfill(self, first: date, last: date) -> None:
        # A backfill selects runs by logical date: the whole of each day takes the day's run,
        # whatever hour the schedule runs at.
        self._checked(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", f"{first}T00:00:00+00:00", "--to-date", f"{last}T23:59:59+00:00",
            "--max-active-runs", "3", "--reprocess-behavior", "failed",
        )  # fmt: skip

    def log(self, day: date) -> str:
        return str(self.stack.dir / f"run-{day}.log")

    def run_foreground(self, day: date, conf: dict | None) -> int:
        with open(self.log(day), "w") as log:
            return airflow.run_day(self.stack, DAG_ID, day, conf, stdout=log, stderr=log).returncode
