"""The day a run is for (lakehouse.run_days) and the commands that address runs by day
(`runs day/rerun/redrive/backfill`, plugins/lakehouse/runs_cli.py), against moto's in-process
DynamoDB, with a recorder in Airflow's place (tests/e2e/test_runbooks.py drives the real one)."""

from __future__ import annotations

from datetime import date

import pytest
from lakehouse import run_days, runs_cli

from tests.unit import test_runs_cli
from tests.unit.test_runs_cli import PIPELINE, TABLE, failed_record, succeeded_record

pytestmark = pytest.mark.unit
D = date(2026, 11, 20)
ledger_table = test_runs_cli.ledger_table  # the fixture: a moto ledger with two runs


def record(run_id: str, start: str, end: str, started_at: str, status="SUCCEEDED") -> dict:
    return {
        "run_id": run_id,
        "interval_start": start,
        "interval_end": end,
        "started_at": started_at,
        "status": status,
    }


# One day, D, as each kind of run records it: the run id and the logical date disagree, the
# interval does not.
SCHEDULED, BACKFILL, MANUAL, RANGE, NEXT = (
    record(run_id, start, end, started_at)
    for run_id, start, end, started_at in (
        ("scheduled__2026-11-21T06:00:00+00:00", "2026-11-20", "2026-11-21", "2026-11-21T06:00"),
        ("backfill__2026-11-21T06:00:00+00:00", "2026-11-20", "2026-11-21", "2026-11-22T01:00"),
        ("manual__2026-12-01T10:00:00+00:00_ab", "2026-11-20", "2026-11-21", "2026-12-01T10:00"),
        ("manual__2026-12-02T10:00:00+00:00_cd", "2026-11-19", "2026-11-22", "2026-12-02T10:00"),
        ("scheduled__2026-11-22T06:00:00+00:00", "2026-11-21", "2026-11-22", "2026-11-22T06:00"),
    )
)


def test_the_day_of_a_run_is_the_first_day_of_its_interval():
    assert [run_days.day_of(r) for r in (SCHEDULED, BACKFILL, MANUAL, NEXT)] == [
        D,
        D,
        D,
        D.replace(day=21),
    ]
    assert run_days.day_of(RANGE) == date(2026, 11, 19)  # a range run is for its first day
    assert run_days.day_of({"run_id": "x"}) is None


def test_runs_for_a_day_newest_first_and_the_latest_is_the_one_rerun():
    records = [SCHEDULED, NEXT, MANUAL, RANGE, BACKFILL]
    found = run_days.runs_for_day(records, D)
    assert [r["run_id"] for r in found] == [
        MANUAL["run_id"],
        BACKFILL["run_id"],
        SCHEDULED["run_id"],
    ]
    assert run_days.run_for_day(records, D) is MANUAL
    assert run_days.runs_for_day(records, date(2026, 11, 21)) == [NEXT]


def test_no_run_for_a_day_names_the_day_and_the_days_that_have_runs():
    with pytest.raises(run_days.NoRunForDay) as error:
        run_days.run_for_day([SCHEDULED, NEXT], date(2026, 11, 18))
    message = str(error.value)
    assert message.startswith("no run for day 2026-11-18 in the run ledger")
    assert "2026-11-20, 2026-11-21" in message and "backfill 2026-11-18 2026-11-18" in message


def test_redrivable_only_when_failed():
    failed = {**SCHEDULED, "status": "FAILED"}
    assert run_days.redrivable(failed, "r") is failed
    with pytest.raises(run_days.NotRedrivable, match="is not in the run ledger"):
        run_days.redrivable(None, "r")
    with pytest.raises(run_days.NotRedrivable, match=r"\(day 2026-11-20\) is SUCCEEDED"):
        run_days.redrivable(SCHEDULED, "r")


def test_days_of_a_range_and_which_still_need_a_run():
    days = run_days.days_between(date(2026, 11, 19), date(2026, 11, 22))
    assert days == [date(2026, 11, d) for d in (19, 20, 21, 22)]
    with pytest.raises(ValueError, match="ends"):
        run_days.days_between(date(2026, 11, 22), date(2026, 11, 19))
    failed_later = {**MANUAL, "status": "FAILED"}
    todo, skipped = run_days.days_to_backfill([SCHEDULED, failed_later, NEXT, RANGE], days)
    # 19: only a range run starts there and it succeeded; 20: its latest run failed; 22: none.
    assert todo == [date(2026, 11, 20), date(2026, 11, 22)]
    assert set(skipped) == {date(2026, 11, 19), date(2026, 11, 21)}
    assert run_days.interval_params(D) == {
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
    }


class Recorder:
    """Airflow as runs_cli.act sees it, recording what it was asked to do."""

    watch = "the UI"

    def __init__(self, scheduler: bool, known=True):
        self.scheduler, self.known, self.calls = scheduler, known, []

    def scheduler_running(self):
        return self.scheduler

    def clear(self, run_id):
        self.calls.append(("clear", run_id))
        return self.known

    def trigger(self, conf):
        self.calls.append(("trigger", conf))
        return "manual__new"

    def backfill(self, first, last):
        self.calls.append(("backfill", first, last))
        return None

    def log(self, day):
        return f"run-{day}.log"

    def run_foreground(self, day, conf):
        self.calls.append(("foreground", day, conf))
        return 0


def act(capsys, airflow, *argv: str) -> tuple[int, str, str]:
    code = runs_cli.main(["--table", TABLE, "--pipeline", PIPELINE, *argv], airflow=airflow)
    out, err = capsys.readouterr()
    return code, out, err


def test_day_lists_the_runs_of_the_day(ledger_table, capsys):
    code, out, _ = act(capsys, None, "day", "2026-11-20")
    assert code == 0 and succeeded_record()["run_id"] in out
    assert failed_record()["run_id"] not in out  # that one is for 2026-11-10
    code, out, err = act(capsys, None, "day", "2026-11-19")
    assert code == 1 and out == "" and "no run for day 2026-11-19" in err


def test_rerun_clears_the_days_latest_run_when_a_scheduler_runs(ledger_table, capsys):
    airflow = Recorder(scheduler=True)
    code, out, _ = act(capsys, airflow, "rerun", "2026-11-20")
    run_id = succeeded_record()["run_id"]
    assert code == 0 and airflow.calls == [("clear", run_id)]
    assert f"Cleared day 2026-11-20's latest run {run_id} (SUCCEEDED)" in out
    assert "Watch: the UI" in out


def test_rerun_of_a_run_airflow_lost_triggers_the_day(ledger_table, capsys):
    airflow = Recorder(scheduler=True, known=False)
    code, out, _ = act(capsys, airflow, "rerun", "2026-11-20")
    assert code == 0
    assert airflow.calls[1] == (
        "trigger",
        {"interval_start": "2026-11-20", "interval_end": "2026-11-21"},
    )
    assert "triggered DAG run manual__new for day 2026-11-20" in out


def test_rerun_of_a_day_without_a_run_fails_and_does_nothing(ledger_table, capsys):
    airflow = Recorder(scheduler=True)
    code, out, err = act(capsys, airflow, "rerun", "2026-11-21")
    assert code == 1 and airflow.calls == []
    assert err.startswith("runs: no run for day 2026-11-21 in the run ledger")


def test_rerun_without_a_scheduler_runs_the_day_here_and_says_it_recorded_nothing(
    ledger_table, capsys
):
    airflow = Recorder(scheduler=False)
    code, out, _ = act(capsys, airflow, "rerun", "2026-11-20")
    assert airflow.calls == [("foreground", D, None)]
    # The recorder ran nothing, so the ledger has no new run: a failure, said so.
    assert code == 1 and "the run recorded nothing in the run ledger" in out


def test_redrive_triggers_with_redrive_of_and_refuses_a_run_that_did_not_fail(ledger_table, capsys):
    airflow = Recorder(scheduler=True)
    failed = failed_record()["run_id"]
    code, out, _ = act(capsys, airflow, "redrive", failed)
    assert code == 0 and airflow.calls == [("trigger", {"redrive_of": failed})]
    assert (
        f"Triggered DAG run manual__new, redriving {failed} (day 2026-11-10, failed in tests)"
        in out
    )
    code, _, err = act(capsys, airflow, "redrive", succeeded_record()["run_id"])
    assert code == 1 and "only FAILED runs redrive" in err and len(airflow.calls) == 1
    quiet = Recorder(scheduler=False)
    act(capsys, quiet, "redrive", failed)
    assert quiet.calls == [("foreground", date(2026, 11, 10), {"redrive_of": failed})]


def test_backfill_through_the_scheduler_or_day_by_day_here(ledger_table, capsys):
    airflow = Recorder(scheduler=True)
    code, out, _ = act(capsys, airflow, "backfill", "2026-11-19", "2026-11-21")
    assert code == 0 and airflow.calls == [("backfill", date(2026, 11, 19), date(2026, 11, 21))]
    assert "backfill of 3 day(s), 2026-11-19 .. 2026-11-21" in out
    quiet = Recorder(scheduler=False)
    act(capsys, quiet, "backfill", "2026-11-19", "2026-11-21")
    assert [c[1] for c in quiet.calls] == [date(2026, 11, 19), date(2026, 11, 21)]
    code, _, err = act(capsys, airflow, "backfill", "2026-11-21", "2026-11-19")
    assert code == 1 and "ends (2026-11-19) before it starts" in err


def test_actions_without_airflow_say_where_to_turn(ledger_table, capsys):
    code, _, err = act(capsys, None, "rerun", "2026-11-20")
    assert code == 1 and "acts through Airflow" in err and "docs/runbooks.md" in err
    with pytest.raises(SystemExit):
        act(capsys, None, "rerun", "20-11-2026")


@pytest.fixture
def mwaa():
    """An MWAA client whose InvokeRestApi answers are queued: botocore's Stubber checks each
    request's parameters against the MWAA API model."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("mwaa", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect(stub, method: str, path: str, body=None, status=200, answer=None, error=False):
    params = {"Name": "lakehouse-sandbox", "Method": method, "Path": path}
    if body is not None:
        params["Body"] = body
    if error:
        stub.add_client_error(
            "invoke_rest_api",
            service_error_code="RestApiClientException",
            http_status_code=400,
            expected_params=params,
            response_meta={},
            modeled_fields={"RestApiStatusCode": status, "RestApiResponse": answer or {}},
        )
    else:
        response = {"RestApiStatusCode": status, "RestApiResponse": answer or {}}
        stub.add_response("invoke_rest_api", response, params)


def test_mwaa_rerun_clears_the_days_run_through_the_rest_api(ledger_table, mwaa, capsys):
    from lakehouse.mwaa_airflow import MwaaAirflow

    client, stub = mwaa
    run_id = succeeded_record()["run_id"]
    expect(stub, "GET", "/dags/lakehouse_raw_to_curated", answer={"is_paused": False})
    expect(
        stub,
        "POST",
        "/dags/lakehouse_raw_to_curated/clearTaskInstances",
        {"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True},
        answer={"task_instances": [], "total_entries": 7},
    )
    code, out, _ = act(capsys, MwaaAirflow("lakehouse-sandbox", client), "rerun", "2026-11-20")
    assert code == 0 and f"Cleared day 2026-11-20's latest run {run_id}" in out
    assert "MWAA environment lakehouse-sandbox" in out


def test_mwaa_redrive_and_backfill_requests(ledger_table, mwaa, capsys):
    from lakehouse.mwaa_airflow import MwaaAirflow

    client, stub = mwaa
    airflow = MwaaAirflow("lakehouse-sandbox", client)
    failed = failed_record()["run_id"]
    expect(stub, "GET", "/dags/lakehouse_raw_to_curated", answer={"is_paused": False})
    expect(
        stub,
        "POST",
        "/dags/lakehouse_raw_to_curated/dagRuns",
        {"logical_date": None, "conf": {"redrive_of": failed}},
        answer={"dag_run_id": "manual__2026-12-06T10:00:00+00:00"},
    )
    code, out, _ = act(capsys, airflow, "redrive", failed)
    assert code == 0 and "Triggered DAG run manual__2026-12-06T10:00:00+00:00" in out
    expect(stub, "GET", "/dags/lakehouse_raw_to_curated", answer={"is_paused": False})
    backfill = {
        "dag_id": "lakehouse_raw_to_curated",
        "from_date": "2026-11-01T00:00:00Z",
        "to_date": "2026-11-07T23:59:59Z",
        "max_active_runs": 3,
        "reprocess_behavior": "failed",
    }
    expect(stub, "POST", "/backfills", backfill, answer={"id": 4})
    code, out, _ = act(capsys, airflow, "backfill", "2026-11-01", "2026-11-07")
    assert code == 0 and "backfill of 7 day(s)" in out


def test_mwaa_refusals_are_one_line_errors(ledger_table, mwaa, capsys):
    from lakehouse.mwaa_airflow import MwaaAirflow

    client, stub = mwaa
    airflow = MwaaAirflow("lakehouse-sandbox", client)
    expect(stub, "GET", "/dags/lakehouse_raw_to_curated", answer={"is_paused": True})
    code, _, err = act(capsys, airflow, "rerun", "2026-11-20")
    assert code == 1 and "is paused in MWAA environment lakehouse-sandbox" in err
    # Airflow no longer has the run: the day is triggered with its interval instead.
    expect(stub, "GET", "/dags/lakehouse_raw_to_curated", answer={"is_paused": False})
    run_id = succeeded_record()["run_id"]
    clear = {"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True}
    expect(stub, "POST", "/dags/lakehouse_raw_to_curated/clearTaskInstances", clear,
           status=404, answer={"detail": "not found"}, error=True)  # fmt: skip
    interval = {"interval_start": "2026-11-20", "interval_end": "2026-11-21"}
    expect(stub, "POST", "/dags/lakehouse_raw_to_curated/dagRuns",
           {"logical_date": None, "conf": interval}, status=403,
           answer={"detail": "Forbidden"}, error=True)  # fmt: skip
    code, _, err = act(capsys, airflow, "rerun", "2026-11-20")
    assert code == 1 and "answered POST /dags/lakehouse_raw_to_curated/dagRuns with 403" in err


def test_mwaa_paths_longer_than_invoke_rest_api_takes_are_refused_before_sending(mwaa):
    from lakehouse.mwaa_airflow import AirflowUnavailable, MwaaAirflow

    client, _ = mwaa  # nothing queued: a request sent would fail the Stubber
    run_path = "/dags/lakehouse_raw_to_curated/dagRuns/backfill__2026-01-06T06:00:00+00:00/clear"
    with pytest.raises(AirflowUnavailable, match="paths of 64 characters"):
        MwaaAirflow("lakehouse-sandbox", client)._call("POST", run_path, {"dry_run": False})
