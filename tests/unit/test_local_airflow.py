"""The local Airflow's CLI wrapper (local/local_airflow.py): a write that loses SQLite's lock to
the scheduler is run again, and a failure names its cause rather than SQLAlchemy's doc link."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
from lakehouse.mwaa_airflow import AirflowUnavailable

from local import local_airflow

pytestmark = pytest.mark.unit

LOCKED = (
    "Traceback (most recent call last):\n"
    "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
    "(Background on this error at: https://sqlalche.me/e/20/e3q8)\n"
)


def wrapper(answers, tmp_path, monkeypatch):
    airflow = local_airflow.LocalAirflow(SimpleNamespace(dir=tmp_path))
    calls = []

    def cli(*args):
        calls.append(args)
        code, err = answers[min(len(calls), len(answers)) - 1]
        return subprocess.CompletedProcess(args, code, stdout="done\n", stderr=err)

    monkeypatch.setattr(airflow, "_cli", cli)
    monkeypatch.setattr(local_airflow.time, "sleep", lambda seconds: None)
    return airflow, calls


def test_a_write_that_lost_the_lock_is_run_again(tmp_path, monkeypatch):
    airflow, calls = wrapper([(1, LOCKED), (1, LOCKED), (0, "")], tmp_path, monkeypatch)
    assert airflow._checked("backfill", "create") == "done\n"
    assert len(calls) == 3


def test_a_lock_that_never_frees_fails_naming_the_lock(tmp_path, monkeypatch):
    airflow, calls = wrapper([(1, LOCKED)], tmp_path, monkeypatch)
    with pytest.raises(AirflowUnavailable, match="database is locked"):
        airflow._checked("backfill", "create")
    assert len(calls) == local_airflow.LOCKED_RETRIES + 1


def test_other_failures_are_not_retried(tmp_path, monkeypatch):
    airflow, calls = wrapper([(1, "airflow: DAG not found\n")], tmp_path, monkeypatch)
    with pytest.raises(AirflowUnavailable, match="DAG not found"):
        airflow._checked("dags", "trigger")
    assert len(calls) == 1
