"""Faults injected into the local stack while the real DAG runs, one day of data per scenario.

Each failure ends with the run ledger FAILED with its cause, one alert in the local inbox
(SNS -> SQS), and a redrive (docs/runbooks.md) that succeeds; transient errors and a retried
Airflow task end in a successful run instead. After every scenario the event ids in
fct_events are exactly those of the raw files: nothing lost, nothing duplicated.
(The dbt SQL error is tests/e2e/test_failing_model.py.)
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
from lakehouse.run_plan import execution_name_base

from local import faults, sample_data
from local.demo import DAG_ID, run_dag_for_day
from tests.e2e.test_daily_run import raw_lines
from tests.stacks import started_stack

pytestmark = [pytest.mark.e2e, pytest.mark.cost(11)]
EVENTS = 120
TRANSIENT, RETRIED, CRAWL, TIMEOUT, UNHANDLED, MID_WRITE = (
    date(2026, 10, day) for day in range(1, 7)
)
LONG = date(2026, 10, 7)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A private stack: the marts hold exactly the days this module writes."""
    with pytest.MonkeyPatch.context() as patch:
        # Airflow's retry delay (2 minutes, doubling) shortened for the retry scenario.
        patch.setenv("LAKEHOUSE_RETRY_DELAY_SECONDS", "1")
        with started_stack(tmp_path_factory.mktemp("faults-stack")) as started:
            yield started


@pytest.fixture
def lake(stack):
    local, provisioned, lakehouse = stack
    faults.clear(lakehouse.endpoint_url)
    lakehouse.alerts()  # an empty inbox: each scenario counts its own alerts
    yield local, provisioned, lakehouse
    faults.clear(lakehouse.endpoint_url)


def write_day(lakehouse, provisioned, day: date) -> None:
    sample_data.write_day(
        lakehouse.client("s3"), provisioned.names.raw_bucket, day, events=EVENTS, seed=day.day
    )


def latest_run(lakehouse, day: date, redrive_of: str | None = None) -> dict:
    """The newest ledger record of the day's runs (or of the redrives of a run)."""
    return next(
        r
        for r in lakehouse.runs()  # newest first
        if r.get("interval_start") == day.isoformat() and r.get("redrive_of") == redrive_of
    )


def redrive(local, lakehouse, failed_run_id: str, day: date) -> dict:
    """The runbook's redrive (a new DAG run with `redrive_of`); returns its ledger record."""
    log_name = f"faults-redrive-{day}.log"
    code = run_dag_for_day(local, day, log_name, {"redrive_of": failed_run_id})
    assert code == 0, f"the redrive failed: see {local.dir / log_name}"
    record = latest_run(lakehouse, day, redrive_of=failed_run_id)
    assert record["status"] == "SUCCEEDED"
    assert lakehouse.run(failed_run_id)["redriven_by"] == record["run_id"]
    return record


def assert_marts_match_raw(lakehouse, provisioned) -> None:
    raw = raw_lines(lakehouse.client("s3"), provisioned.names.raw_bucket, "events/")
    stored = lakehouse.table("fct_events")["event_id"].to_pylist()
    assert len(stored) == len(set(stored)), "an event is in fct_events twice"
    assert sorted(stored) == sorted({e["event_id"] for e in raw})


def failed_tasks(lakehouse, execution_arn: str) -> list[str]:
    events = lakehouse.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]


def executions_of(lakehouse, run_id: str) -> list[str]:
    sfn = lakehouse.client("stepfunctions")
    base = execution_name_base(run_id)
    names = [
        e["name"]
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=lakehouse.resources["state_machine_arn"]
        )
        for e in page["executions"]
    ]
    return sorted(n for n in names if n.startswith(base + "-t"))


@contextmanager
def reconfigured(lakehouse, function: str, **settings):
    """A function deployed with other settings for the block (a bad deployment), then restored."""
    lam = lakehouse.client("lambda")
    current = lam.get_function_configuration(FunctionName=function)
    lam.update_function_configuration(FunctionName=function, **settings)
    try:
        yield
    finally:
        restore = {key: current[key] for key in settings}
        lam.update_function_configuration(FunctionName=function, **restore)


def run_failing_day(local, provisioned, lakehouse, day: date, log_name: str) -> dict:
    """Run the day: it must fail, be FAILED in the ledger and alert once. Returns the failed
    record, with the alert's message under "alert"."""
    assert run_dag_for_day(local, day, log_name) != 0, "the DAG run should have failed"
    record = latest_run(lakehouse, day)
    assert record["status"] == "FAILED"
    if record.get("execution_arn"):
        # One execution for the one try: a failed execution fails wait_for_transform (no
        # retries), never start_transform (whose retries would start new executions).
        base = execution_name_base(record["run_id"])
        assert executions_of(lakehouse, record["run_id"]) == [f"{base}-t1"]
        assert record["execution_arn"].endswith(f"{base}-t1")
        log = (local.dir / log_name).read_text()
        assert log.count("StateMachineExecutionFailed: State machine execution") == 1, log
    alerts = lakehouse.alerts()
    assert len(alerts) == 1, [a["Message"] for a in alerts]  # one alert, never two
    assert record["run_id"] in alerts[0]["Message"]
    assert alerts[0]["Subject"].startswith(f"{DAG_ID} FAILED: {day.isoformat()} to ")
    record["alert"] = alerts[0]["Message"]
    return record


def test_transient_aws_errors_are_retried_and_the_run_succeeds(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, TRANSIENT)
    url = lakehouse.endpoint_url
    # Step Functions' Retry (Lambda.TooManyRequestsException) and the SDK's retries in
    # Airflow's Glue hook (ThrottlingException) absorb these.
    faults.inject(
        url, service="lambda", operation="Invoke", match=provisioned.names.dbt_executor_function,
        error="TooManyRequestsException", status=429, times=2, message="Rate Exceeded.",
    )  # fmt: skip
    faults.inject(
        url, service="glue", operation="GetCrawler", error="ThrottlingException", status=400,
        times=2, message="Rate exceeded",
    )  # fmt: skip

    assert run_dag_for_day(local, TRANSIENT, "faults-transient.log") == 0

    record = latest_run(lakehouse, TRANSIENT)
    assert record["status"] == "SUCCEEDED"
    assert failed_tasks(lakehouse, record["execution_arn"]) == [
        "Lambda.TooManyRequestsException",
        "Lambda.TooManyRequestsException",
    ]
    assert faults.rules(url)["api"] == []  # every injected error was met, and retried
    assert lakehouse.alerts() == []
    assert_marts_match_raw(lakehouse, provisioned)


def test_airflow_retry_starts_a_new_execution_name(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, RETRIED)
    # StartExecution starts the execution but its answer is lost, on every SDK attempt: the
    # task's first try fails although `<run>-t1` runs. The retry must not reuse that name.
    faults.inject(
        lakehouse.endpoint_url, service="states", operation="StartExecution",
        error="ServiceUnavailable", status=503, times=5, forward=True,
        message="injected: the answer was lost",
    )  # fmt: skip

    assert run_dag_for_day(local, RETRIED, "faults-retry.log") == 0

    record = latest_run(lakehouse, RETRIED)
    run_id = record["run_id"]
    assert record["status"] == "SUCCEEDED"
    assert record["execution_arn"].endswith("-t2")
    base = execution_name_base(run_id)
    assert executions_of(lakehouse, run_id) == [f"{base}-t1", f"{base}-t2"]
    log = (local.dir / "faults-retry.log").read_text()
    assert "ServiceUnavailable" in log and "ExecutionAlreadyExists" not in log
    assert lakehouse.alerts() == []
    assert_marts_match_raw(lakehouse, provisioned)


def assert_readable(failed: dict) -> None:
    """A function's error reads as its message in the record and the alert: not the Lambda
    runtime's escaped JSON, no Python stack trace (that stays in the function's log)."""
    for text in (failed["cause"], failed["alert"]):
        assert "errorMessage" not in text and "stackTrace" not in text, text
        assert "Traceback" not in text and 'File "' not in text, text
    assert not failed["cause"].lstrip().startswith("{"), failed["cause"]


def test_crawler_failure_is_recorded_alerted_and_redriven(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, CRAWL)
    message = "Internal Service Exception: injected crawl failure"
    faults.fail_next_crawl(lakehouse.endpoint_url, provisioned.names.raw_crawler, message)

    failed = run_failing_day(local, provisioned, lakehouse, CRAWL, "faults-crawl.log")

    assert (failed["failed_stage"], failed["error"]) == ("wait_for_raw_crawler", "CrawlFailed")
    assert message in failed["cause"]
    assert executions_of(lakehouse, failed["run_id"]) == []  # the transform never started
    # The Airflow callback's alert: what failed, why, and how to look further.
    assert "wait_for_raw_crawler" in failed["alert"] and message in failed["alert"]
    assert f"scripts/runs show {failed['run_id']}" in failed["alert"]

    redrive(local, lakehouse, failed["run_id"], CRAWL)
    assert_marts_match_raw(lakehouse, provisioned)


def test_lambda_timeout_fails_the_run_with_its_cause_in_airflow(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, TIMEOUT)
    with reconfigured(lakehouse, provisioned.names.dbt_executor_function, Timeout=1):
        failed = run_failing_day(local, provisioned, lakehouse, TIMEOUT, "faults-timeout.log")

    assert (failed["failed_stage"], failed["error"]) == ("dbt_staging", "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in failed["cause"]
    assert_readable(failed)
    assert "Sandbox.Timedout" in failed["alert"]
    # The state machine's failure surfaces in Airflow with its error and cause.
    log = (local.dir / "faults-timeout.log").read_text()
    assert "StateMachineExecutionFailed" in log and "Task timed out after 1.00 seconds" in log

    redrive(local, lakehouse, failed["run_id"], TIMEOUT)
    assert_marts_match_raw(lakehouse, provisioned)


def test_unhandled_lambda_exception_fails_the_stage_and_a_redrive_resumes_there(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, UNHANDLED)
    function = provisioned.names.test_executor_function
    variables = lakehouse.client("lambda").get_function_configuration(FunctionName=function)[
        "Environment"
    ]["Variables"]
    # A bad deployment: the handler raises on its configuration, an exception it never catches.
    broken = {"Variables": {**variables, "DBT_TARGET": "athena-typo"}}
    with reconfigured(lakehouse, function, Environment=broken):
        failed = run_failing_day(local, provisioned, lakehouse, UNHANDLED, "faults-unhandled.log")

    assert (failed["failed_stage"], failed["error"]) == ("tests", "ConfigurationError")
    assert "DBT_TARGET must be one of" in failed["cause"]
    assert_readable(failed)
    assert "athena-typo" in failed["alert"]
    log = (local.dir / "faults-unhandled.log").read_text()
    assert "StateMachineExecutionFailed" in log and "ConfigurationError" in log

    redriven = redrive(local, lakehouse, failed["run_id"], UNHANDLED)
    assert "tests" in redriven["stages"]
    assert not {"dbt_staging", "dbt_marts"} & set(redriven["stages"])  # not run again
    assert_marts_match_raw(lakehouse, provisioned)


def test_failure_mid_write_keeps_the_previous_snapshot(lake):
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, MID_WRITE)
    before = lakehouse.iceberg_table("fct_events")
    snapshot, rows = before.current_snapshot().snapshot_id, before.scan().to_arrow().num_rows
    # The data files are written; the catalog refuses the commit that would publish them.
    faults.inject(
        lakehouse.endpoint_url, service="glue", operation="UpdateTable", match="fct_events",
        error="AccessDeniedException", status=400,
        message="not authorized to perform: glue:UpdateTable (injected)",
    )  # fmt: skip

    failed = run_failing_day(local, provisioned, lakehouse, MID_WRITE, "faults-mid-write.log")

    assert (failed["failed_stage"], failed["error"]) == ("dbt_marts", "DbtRunError")
    assert "UpdateTable" in failed["cause"] and "fct_events" in failed["cause"]
    after = lakehouse.iceberg_table("fct_events")
    assert after.current_snapshot().snapshot_id == snapshot
    assert after.scan().to_arrow().num_rows == rows

    redrive(local, lakehouse, failed["run_id"], MID_WRITE)
    assert_marts_match_raw(lakehouse, provisioned)


def test_invalid_params_fail_before_the_ledger_and_the_callback_alerts(lake):
    local, provisioned, lakehouse = lake
    conf = {"interval_start": "2026-10-09", "interval_end": "2026-10-08"}
    runs_before = len(lakehouse.runs())

    assert run_dag_for_day(local, date(2026, 10, 8), "faults-params.log", conf) != 0

    assert len(lakehouse.runs()) == runs_before  # plan_run failed: nothing was recorded
    [alert] = lakehouse.alerts()
    assert "plan_run" in alert["Message"] and "InvalidRunParams" in alert["Message"]
    assert "must be after interval_start" in alert["Message"]
    assert "before it was recorded in the ledger" in alert["Message"]


def test_an_execution_that_outlasts_the_wait_s_poll_budget_still_succeeds(lake, monkeypatch):
    """The trigger's polls run out (2 polls, 1 s apart) long before the execution ends: the wait
    defers again instead of failing or giving up, and the run succeeds."""
    local, provisioned, lakehouse = lake
    write_day(lakehouse, provisioned, LONG)
    monkeypatch.setenv("LAKEHOUSE_WAIT_MAX_ATTEMPTS", "2")

    assert run_dag_for_day(local, LONG, "faults-long.log") == 0

    record = latest_run(lakehouse, LONG)
    assert record["status"] == "SUCCEEDED"
    base = execution_name_base(record["run_id"])
    assert executions_of(lakehouse, record["run_id"]) == [f"{base}-t1"]
    log = (local.dir / "faults-long.log").read_text()
    assert "Waiter error: max attempts reached" in log  # the budget did run out
    assert "Still running after the trigger's polls: waiting again" in log
    assert "[DAG TEST] running trigger in line" in log  # deferred, triggers run by dags test
    assert lakehouse.alerts() == []
    assert_marts_match_raw(lakehouse, provisioned)
