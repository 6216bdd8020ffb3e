"""One run's record, opened the way an operator does: `scripts/runs list` / `show` as
subprocesses against the local stack after real DAG runs (one that succeeds, one that fails),
the link in the task logs, the SNS alert read from the local inbox, and the Lambdas' logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from lakehouse import run_record

from local import sample_data
from local.demo import run_dag_for_day
from tests.e2e.test_daily_run import raw_lines

pytestmark = [pytest.mark.e2e, pytest.mark.cost(2)]
REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 18)
FAILING_DAY = date(2026, 11, 12)
STAGES = run_record.STAGES
# No API source is enabled in these runs: the ingest stage is recorded, and skipped.
EXPECTED_STATUS = {"ingest": "SKIPPED"}


def runs_cli(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKEHOUSE_STATE_DIR": str(stack.dir)}
    for name in ("LAKEHOUSE_ENV", "LAKEHOUSE_RUNS_TABLE"):
        env.pop(name, None)
    return subprocess.run(
        [str(REPO / "scripts" / "runs"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def good_run(local_stack):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    sample_data.write_day(s3, provisioned.names.raw_bucket, DAY, events=1500, seed=5)
    code = run_dag_for_day(stack, DAY, log_name="e2e-run-record.log")
    assert code == 0, "the DAG run failed: see e2e-run-record.log in the stack directory"
    run = next(r for r in lakehouse.runs() if r["interval_start"] == DAY.isoformat())
    events = len(raw_lines(s3, provisioned.names.raw_bucket, f"events/dt={DAY}/"))
    return stack, run, events


@pytest.fixture(scope="module")
def failed_run(local_stack):
    stack, provisioned, lakehouse = local_stack
    sample_data.write_day(
        lakehouse.client("s3"), provisioned.names.raw_bucket, FAILING_DAY, events=100, seed=6
    )
    lakehouse.alerts()  # start from an empty inbox
    # An operator's typo: a mart that does not exist. The dbt-executor rejects the event, so
    # the state machine fails in its first stage with the executor's message as the cause.
    conf = {"full_refresh_models": ["fct_event"]}
    code = run_dag_for_day(stack, FAILING_DAY, log_name="e2e-run-record-failed.log", conf=conf)
    assert code != 0, "the DAG run should have failed"
    run = next(r for r in lakehouse.runs() if r["interval_start"] == FAILING_DAY.isoformat())
    return stack, run, lakehouse.alerts()


def test_the_ledger_keeps_each_stages_times_and_the_runs_duration(good_run):
    _, run, _ = good_run
    assert run["status"] == "SUCCEEDED"
    assert run["finished_at"] and float(run["duration_s"]) > 0
    for name in STAGES:
        stage = run["stages"][name]
        assert stage["status"] == EXPECTED_STATUS.get(name, "SUCCEEDED"), name
        assert stage["started_at"] and stage["ended_at"], name
        assert stage["duration_s"] is not None and stage["duration_s"] >= 0, name
    assert run["triggered_by"] and run["run_type"]
    assert run_record.shape_errors(run) == []


def test_the_record_says_what_the_run_cost_and_what_the_emulator_cannot_know(good_run):
    _, run, _ = good_run
    cost = json.loads(run["cost"])
    for stage in ("dbt_staging", "dbt_marts", "tests"):
        assert cost["stages"][stage]["lambda_requests"] >= 1, stage
        assert cost["stages"][stage]["lambda_gb_s"] > 0, stage
        assert cost["stages"][stage]["usd"] > 0, stage
    assert cost["state_machine"]["transitions"] > 3 and cost["state_machine"]["usd"] > 0
    # DuckDB scans no Athena bytes and the emulator knows no crawl's DPU-hours: n/a, not 0.
    assert cost["stages"]["dbt_staging"]["athena_bytes"] is None
    assert cost["stages"]["crawler"]["crawler_dpu_hours"] is None
    assert "crawler DPU-hours (crawler)" in cost["not_known"]
    assert "Athena bytes scanned (dbt_staging)" in cost["not_known"]
    parts = [s["usd"] or 0 for s in cost["stages"].values()] + [cost["state_machine"]["usd"]]
    assert cost["total_usd"] == pytest.approx(sum(parts), abs=1e-5)


def test_runs_list_and_show_open_the_run(good_run):
    stack, run, events = good_run
    listed = runs_cli(stack, "list", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(run["run_id"]))
    assert row.split()[1:5] == ["SUCCEEDED", "2026-11-18", "->", "2026-11-19"]
    assert re.search(r"\d+\.\ds", row)

    shown = runs_cli(stack, "show", run["run_id"])
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith(f"run {run['run_id']}: SUCCEEDED")
    for name in STAGES:
        status = EXPECTED_STATUS.get(name, "SUCCEEDED")
        assert re.search(rf"^  {name}\s+{status}\s+\d+\.\ds", text, re.M), name
    assert re.search(rf"^\s+stg_raw_events\s+success\s+rows\s+{events}\b", text, re.M)
    assert re.search(r"^  cost         \$\d+\.\d{4} USD", text, re.M)
    assert "n/a: " in text and "crawl DPU-h n/a" in text
    read = re.search(r"^\s+fct_events\s+success\s+rows\s+\d+ .* read (\d+) rows$", text, re.M)
    assert read and int(read.group(1)) >= events  # DuckDB scanned at least the day's raw lines
    assert re.search(r"tests: \d+ passed, 0 warned, 0 failed, 0 errored of \d+", text)
    quarantine = [
        m for m in run["stages"]["dbt_marts"]["models"] if m["name"] == "quarantined_events"
    ]
    assert f"quarantined: {quarantine[0]['rows'] if quarantine else 0}" in text

    raw = runs_cli(stack, "show", run["run_id"], "--json")
    item = json.loads(raw.stdout)
    assert item["run_id"] == run["run_id"] and set(item["stages"]) == set(STAGES)


def test_the_task_logs_say_how_to_open_the_record(good_run):
    stack, run, _ = good_run
    log = (stack.dir / "e2e-run-record.log").read_text()
    # record_run_started, wait_for_transform and summarize_run; no console links locally
    assert log.count(f"Run record: scripts/runs show {run['run_id']}") >= 3
    assert "console.aws.amazon.com" not in log
    # Airflow masks credential values in task logs: the emulator's dummy ones are no word a log
    # holds, so resource names ("lakehouse-local-...") and paths read as they are.
    assert "***" not in log
    assert "lakehouse-local-" in log


def test_lambda_logs_are_json_lines_with_the_run_id_and_stage(good_run):
    stack, run, _ = good_run
    finished = {}
    for function in ("dbt-executor", "test-executor"):
        path = stack.dir / "logs" / f"lakehouse-local-{function}.log"
        for line in path.read_text().splitlines():
            if not line.startswith("{"):
                continue  # the runner's START/END lines and dbt's own console output
            entry = json.loads(line)
            if entry.get("run_id") != run["run_id"]:
                continue
            assert entry["stage"] in STAGES[1:], entry
            assert {"level", "timestamp", "service", "function_request_id"} <= set(entry)
            if entry["message"] in ("dbt run finished", "dbt test finished"):
                finished[entry["stage"]] = entry
    assert set(finished) == {"dbt_staging", "dbt_marts", "tests"}


def test_a_failed_run_shows_its_stage_and_cause(failed_run):
    stack, run, _ = failed_run
    assert run["status"] == "FAILED" and run["failed_stage"] == "dbt_staging"
    assert run["finished_at"] and run.get("duration_s") is not None
    assert run_record.shape_errors(run) == []
    assert json.loads(run["cost"])["stages"]["dbt_staging"]["lambda_requests"] >= 1

    shown = runs_cli(stack, "show", run["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"run {run['run_id']}: FAILED" in shown.stdout
    assert "failed stage dbt_staging" in shown.stdout
    assert re.search(r"cause .*cannot full-refresh \['fct_event'\]", shown.stdout)

    failed = runs_cli(stack, "list", "--status", "FAILED")
    row = next(line for line in failed.stdout.splitlines() if line.startswith(run["run_id"]))
    assert row.split()[1] == "FAILED" and row.split()[-1] == "dbt_staging"
    assert "SUCCEEDED" not in failed.stdout

    missing = runs_cli(stack, "show", "manual__no-such-run")
    assert missing.returncode == 1
    assert "run 'manual__no-such-run' is not in the run ledger" in missing.stderr


def test_the_alert_is_readable(failed_run):
    _, run, alerts = failed_run
    assert len(alerts) == 1
    subject, message = alerts[0]["Subject"], alerts[0]["Message"]
    assert len(subject) <= 100
    assert subject == "lakehouse_raw_to_curated FAILED: 2026-11-12 to 2026-11-13, stage dbt_staging"
    lines = message.splitlines()
    assert "Pipeline: lakehouse_raw_to_curated" in lines
    assert f"Run: {run['run_id']}" in lines
    assert "Interval: 2026-11-12 to 2026-11-13 (end exclusive)" in lines
    assert "Failed stage: dbt_staging" in lines
    assert f"Error: {run['error']}" in lines
    assert any(line.startswith("Cause: ") and "fct_event" in line for line in lines)
    assert f"Inspect: scripts/runs show {run['run_id']}" in lines
