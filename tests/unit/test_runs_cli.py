"""The run ledger CLI (plugins/lakehouse/runs_cli.py, scripts/runs): formatting, argument
handling, and the ledger reads it shares with the DAG, against moto's in-process DynamoDB."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from lakehouse import runs_cli, summary
from lakehouse.ledger import RunLedger
from moto import mock_aws

from local import cli as local_cli
from local.provision import RUNS_TABLE_KEYS

# A landing day's accounting as the staging stage records it (the marts stage adds redelivered).
STAGED = {
    "delivered": 3005,
    "unreadable_objects": 1,
    "accepted": 2990,
    "quarantined": 10,
    "held_back": 5,
    "reasons": {"late_event": 5, "bad_json": 4, "unreadable_file": 1, "missing_user_id": 6},
}

pytestmark = pytest.mark.unit
PIPELINE = "lakehouse_raw_to_curated"
TABLE = "lakehouse-sandbox-runs"


def stage_docs(**stages) -> dict[str, str]:
    """Stages as the ledger stores them: JSON strings."""
    return {name: json.dumps(doc) for name, doc in stages.items()}


def succeeded_record(run_id="scheduled__2026-11-21T06:00:00+00:00", marts_models=None) -> dict:
    return {
        "pipeline": PIPELINE,
        "run_id": run_id,
        "status": "SUCCEEDED",
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
        "full_refresh": False,
        "full_refresh_models": [],
        "lookback_days": 2,
        "triggered_by": "timetable",
        "run_type": "scheduled",
        "started_at": "2026-11-21T06:00:01.000+00:00",
        "finished_at": "2026-11-21T06:01:31.500Z",
        "execution_arn": "arn:aws:states:us-east-1:1:execution:sm:run-t1",
        "stages": stage_docs(
            ingest={
                "status": "SUCCEEDED",
                "duration_s": 3.2,
                "days": [
                    {
                        "source": "partner",
                        "day": "2026-11-20",
                        "status": "COMPLETE",
                        "pages": 3,
                        "records": 600,
                        "resumed_at_page": 2,
                        "skipped": False,
                    },
                    {
                        "source": "crm",
                        "day": "2026-11-20",
                        "status": "COMPLETE",
                        "pages": 1,
                        "records": 300,
                        "resumed_at_page": None,
                        "skipped": True,
                    },
                ],
                "totals": {"pages": 4, "records": 900, "bytes": 181000, "retries": 2},
            },
            tests={
                "status": "SUCCEEDED",
                "duration_s": 12.0,
                "total": 30,
                "passed": 30,
                "warned": 0,
                "failed": 0,
                "errored": 0,
                "failing_tests": [],
                "report": "s3://cur/dbt_artifacts/reports/run/t1.html",
            },
            crawler={
                "stage": "crawler",
                "crawler": "lakehouse-sandbox-raw",
                "status": "SUCCEEDED",
                "started_at": "2026-11-21T06:00:02+00:00",
                "ended_at": "2026-11-21T06:00:40+00:00",
                "duration_s": 38.0,
            },
            dbt_staging={
                "status": "SUCCEEDED",
                "target": "local",
                "duration_s": 4.2,
                "models": [
                    {"name": "stg_raw_events", "status": "success", "rows": 3000},
                    {"name": "stg_raw_users", "status": "success", "rows": 120},
                ],
                "raw_reads": {"users_lines": 1, "events_lines": 1},
                "accounting": {"events": {"2026-11-20": STAGED}},
            },
            dbt_marts={
                "status": "SUCCEEDED",
                "target": "local",
                "duration_s": 9.9,
                "models": marts_models
                or [{"name": "fct_events", "status": "success", "rows": 2990, "rows_read": 3000}],
                "accounting": {"events": {"2026-11-20": {**STAGED, "redelivered": 7}}},
            },
        ),
    }


def failed_record(run_id="manual__2026-11-10T07:00:00+00:00") -> dict:
    record = succeeded_record(run_id)
    record.update(
        status="FAILED",
        interval_start="2026-11-10",
        interval_end="2026-11-11",
        started_at="2026-11-22T07:00:00.000+00:00",
        finished_at="2026-11-22T07:00:30.000+00:00",
        failed_stage="tests",
        error="DataTestsFailed",
        cause="1 failed and 0 errored of 30 dbt tests",
    )
    tests = json.loads(record["stages"]["tests"])
    tests.update(
        status="FAILED",
        passed=29,
        failed=1,
        failing_tests=[{"test": "not_null_fct_events_user_id", "status": "fail", "failures": 4}],
    )
    record["stages"]["tests"] = json.dumps(tests)
    return record


def test_show_lists_every_stage_in_order_with_rows_tests_and_duration():
    text = summary.format_run(succeeded_record())
    assert text.splitlines()[0] == "run scheduled__2026-11-21T06:00:00+00:00: SUCCEEDED"
    assert "triggered    timetable (run type scheduled)" in text
    assert "2026-11-20 -> 2026-11-21 (end exclusive), lookback 2 days, full refresh: no" in text
    assert "(duration 90.5s)" in text  # from started_at/finished_at: none stored yet
    stages = ("crawler", "ingest", "dbt_staging", "dbt_marts", "tests")
    positions = [text.index(f"  {s} ") for s in stages]
    assert positions == sorted(positions)
    assert "ingested pages 4, records 900, bytes 181000, retries 2" in text
    assert "partner 2026-11-20: COMPLETE, pages 3, records 600 (resumed at page 2)" in text
    assert "crm 2026-11-20: COMPLETE, pages 1, records 300 (already complete" in text
    assert "2026-11-21T06:00:02+00:00 -> 2026-11-21T06:00:40+00:00" in text
    assert "stg_raw_events       success  rows      3000" in text
    assert "raw reads: events_lines 1, users_lines 1" in text  # the staging stage's, once a run
    assert (
        "events 2026-11-20: delivered 3005 lines = accepted 2990 + quarantined 10 + held back 5;"
        " unreadable objects 1"
    ) in text
    assert (
        "held back 5 (redelivered, kept from an earlier landing: 7); unreadable objects 1"
    ) in text
    # the most frequent reason first
    assert "by reason: missing_user_id 6, late_event 5, bad_json 4, unreadable_file 1" in text
    assert "tests: 30 passed, 0 warned, 0 failed, 0 errored of 30" in text
    assert "data-quality report: s3://cur/dbt_artifacts/reports/run/t1.html" in text
    assert "quarantined: 0" in text  # the quarantine model is absent
    assert re.search(r"fct_events +success +rows +2990 .* read 3000 rows", text)
    assert "rows each Iceberg model's query read from its sources" in text
    assert "failed stage" not in text


def test_quarantined_count_is_the_quarantine_models_rows():
    models = [
        {"name": "fct_events", "status": "success", "rows": 2990},
        {"name": "quarantined_events", "status": "success", "rows": 7},
    ]
    assert "quarantined: 7" in summary.format_run(succeeded_record(marts_models=models))
    record = succeeded_record()
    record["stages"] = stage_docs(crawler={"status": "SUCCEEDED"})
    assert summary.quarantined(record) is None
    assert "quarantined: - (no dbt model ran)" in summary.format_run(record)


def test_athena_models_show_bytes_scanned():
    record = succeeded_record()
    marts = json.loads(record["stages"]["dbt_marts"])
    marts["target"] = "athena"
    marts["models"][0]["bytes_scanned"] = 5 * 1024 * 1024
    record["stages"]["dbt_marts"] = json.dumps(marts)
    text = summary.format_run(record)
    assert "scanned 5.0 MB" in text
    # a model whose bytes nobody counted reads as unknown, never as 0
    marts["models"][0]["bytes_scanned"] = None
    marts["models"][0]["status"] = "success"
    record["stages"]["dbt_marts"] = json.dumps(marts)
    assert "scanned unknown" in summary.format_run(record)


def test_a_failed_run_shows_its_stage_error_cause_and_failing_tests():
    text = summary.format_run(failed_record())
    assert "failed stage tests" in text
    assert "error        DataTestsFailed" in text
    assert "cause        1 failed and 0 errored of 30 dbt tests" in text
    assert "fail  not_null_fct_events_user_id (4 failing rows)" in text


def test_list_has_one_row_per_run_with_its_columns():
    running = {**succeeded_record("manual__x"), "status": "RUNNING", "finished_at": None}
    text = summary.format_runs([failed_record(), running, succeeded_record()])
    header, *rows = text.splitlines()
    assert header.split() == ["RUN", "ID", "STATUS", "INTERVAL", "DURATION", "FAILED", "STAGE"]
    assert rows[0].split() == [
        "manual__2026-11-10T07:00:00+00:00",
        "FAILED",
        "2026-11-10",
        "->",
        "2026-11-11",
        "30.0s",
        "tests",
    ]
    assert rows[1].split()[1] == "RUNNING" and "running" in rows[1]
    assert rows[2].split()[-1] == "-"


def test_open_record_line_locally_and_on_aws():
    run_id = "scheduled__2026-11-21T06:00:00+00:00"
    assert summary.open_record_line(PIPELINE, run_id, TABLE) == (
        f"Run record: scripts/runs show {run_id}"
    )
    line = summary.open_record_line(PIPELINE, run_id, TABLE, "eu-west-1", "arn:aws:states:x")
    assert f"scripts/runs --table {TABLE} --region eu-west-1 show {run_id}" in line
    assert "https://eu-west-1.console.aws.amazon.com/dynamodbv2/home?region=eu-west-1" in line
    assert "sk=scheduled__2026-11-21T06%3A00%3A00%2B00%3A00" in line
    assert f"table={TABLE}" in line
    assert "#/v2/executions/details/arn:aws:states:x" in line


@pytest.fixture
def ledger_table(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("LAKEHOUSE_RUNS_TABLE", "LAKEHOUSE_PIPELINE", "LAKEHOUSE_ENV"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST", **RUNS_TABLE_KEYS)
        for record in (succeeded_record(), failed_record()):
            table.put_item(Item={k: v for k, v in record.items() if v is not None})
        yield ddb


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = runs_cli.main(["--table", TABLE, "--pipeline", PIPELINE, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list_newest_first_limit_and_status(ledger_table, capsys):
    code, out, _ = cli(capsys, "list")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()[1:]]
    assert ids == ["manual__2026-11-10T07:00:00+00:00", "scheduled__2026-11-21T06:00:00+00:00"]
    _, out, _ = cli(capsys, "list", "--limit", "1")
    assert len(out.splitlines()) == 2
    _, out, _ = cli(capsys, "list", "--status", "succeeded")
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "scheduled__2026-11-21T06:00:00+00:00"
    ]
    _, out, _ = cli(capsys, "--pipeline", "other", "list")
    assert out.startswith("no runs of other")


def test_cli_show_and_show_json(ledger_table, capsys):
    code, out, _ = cli(capsys, "show", "manual__2026-11-10T07:00:00+00:00")
    assert code == 0
    assert out == summary.format_run(failed_record()) + "\n"
    code, out, _ = cli(capsys, "show", "manual__2026-11-10T07:00:00+00:00", "--json")
    item = json.loads(out)
    assert item["status"] == "FAILED" and item["lookback_days"] == 2
    assert json.loads(item["stages"]["tests"])["failed"] == 1  # stored as written


def test_cli_unknown_run_and_bad_arguments(ledger_table, capsys):
    code, out, err = cli(capsys, "show", "manual__nope")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"runs: run 'manual__nope' is not in the run ledger {TABLE} (pipeline {PIPELINE})"
    )
    assert runs_cli.main(["list"]) == 1
    assert "pass --table or set LAKEHOUSE_RUNS_TABLE" in capsys.readouterr().err
    code, _, err = cli(capsys, "--table", "missing-table", "list")
    assert code == 1 and "cannot read the run ledger missing-table" in err
    for argv in (["list", "--limit", "0"], ["list", "--status", "DONE"], ["show"], []):
        with pytest.raises(SystemExit) as exit_info:
            cli(capsys, *argv)
        assert exit_info.value.code == 2


def test_record_duration_from_the_ledger_stamps(ledger_table):
    ledger = RunLedger(TABLE, dynamodb=ledger_table)
    assert ledger.record_duration(PIPELINE, "scheduled__2026-11-21T06:00:00+00:00") == 90.5
    listed = ledger.recent(PIPELINE)
    assert [float(r.get("duration_s", 0)) for r in listed] == [0.0, 90.5]
    assert "stages" not in listed[0]  # list reads summary attributes only


def test_scripts_runs_picks_the_table_from_the_environments_name(ledger_table, capsys):
    assert local_cli.main(["runs", "--env", "sandbox", "--region", "us-east-1", "list"]) == 0
    assert "scheduled__2026-11-21T06:00:00+00:00" in capsys.readouterr().out
    assert local_cli.main(["--env", "Bad_Env", "runs", "list"]) == 1
    assert "environment must match" in capsys.readouterr().err


def test_scripts_runs_without_a_running_local_stack_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("LAKEHOUSE_ENV", raising=False)
    monkeypatch.delenv("LAKEHOUSE_RUNS_TABLE", raising=False)
    assert local_cli.main(["runs", "list"]) == 1
    assert f"the local stack in {tmp_path} is not running" in capsys.readouterr().err
