"""The SNS alert of a failed run, as the state machine's interpreter renders it: the
NotifyFailure state's Subject/Message (and TestsFailed's cause) evaluated by moto's ASL engine
on each failure shape the state machine produces."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from tests.unit.test_state_machine_template import definition

pytestmark = pytest.mark.unit
RUN_ID = "scheduled__2026-11-21T06:00:00+00:00"


def render(failure_state: str, run_input: dict) -> dict:
    """Run `failure_state` (a Pass that builds $.failure) then NotifyFailure's parameters as a
    Pass state, in moto's Step Functions interpreter; return the rendered Subject/Message."""
    asl = definition()["States"]
    notify = {k: v for k, v in asl["NotifyFailure"]["Parameters"].items() if k != "TopicArn"}
    machine = {
        "StartAt": "Failure",
        "States": {
            "Failure": {**asl[failure_state], "Next": "Notify"},
            "Notify": {"Type": "Pass", "Parameters": notify, "End": True},
        },
    }
    saved = dict(default_user_config.get("stepfunctions", {}))
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        with mock_aws():
            sfn = boto3.client(
                "stepfunctions",
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            arn = sfn.create_state_machine(
                name="alert",
                definition=json.dumps(machine),
                roleArn="arn:aws:iam::123456789012:role/states",
            )["stateMachineArn"]
            execution = sfn.start_execution(
                stateMachineArn=arn, name="alert-1", input=json.dumps(run_input)
            )["executionArn"]
            for _ in range(200):
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.05)
    finally:
        default_user_config["stepfunctions"] = saved
    assert described["status"] == "SUCCEEDED", described.get("cause")
    return json.loads(described["output"])


def base_input() -> dict:
    return {
        "pipeline": "lakehouse_raw_to_curated",
        "run_id": RUN_ID,
        "interval": {"start": "2026-11-20", "end": "2026-11-21"},
    }


def test_a_model_failure_alert_says_run_interval_stage_error_cause_and_command():
    run_input = {
        **base_input(),
        "error": {
            "Error": "DbtRunError",
            "Cause": "1 of 2 dbt model(s) failed: fct_events: Conversion Error: bad ts",
        },
    }
    alert = render("DbtMartsFailed", run_input)
    lines = alert["Message"].splitlines()
    assert lines[:7] == [
        "Pipeline: lakehouse_raw_to_curated",
        f"Run: {RUN_ID}",
        "Status: FAILED",
        "Interval: 2026-11-20 to 2026-11-21 (end exclusive)",
        "Failed stage: dbt_marts",
        "Error: DbtRunError",
        "Cause: 1 of 2 dbt model(s) failed: fct_events: Conversion Error: bad ts",
    ]
    assert f"Inspect: scripts/runs show {RUN_ID}" in lines
    assert "--table runs" in alert["Message"]
    assert alert["Subject"] == (
        "lakehouse_raw_to_curated FAILED: 2026-11-20 to 2026-11-21, stage dbt_marts"
    )


def test_a_test_failure_alert_names_the_failing_tests():
    failing = [
        {"test": "not_null_fct_events_user_id", "status": "fail", "failures": 3},
        {"test": "accepted_values_fct_events_event_type", "status": "error", "failures": None},
    ]
    run_input = {
        **base_input(),
        "stages": {
            "tests": {"result": {"failed": 1, "errored": 1, "total": 30, "failing_tests": failing}}
        },
    }
    alert = render("TestsFailed", run_input)
    message = alert["Message"]
    assert "Failed stage: tests" in message and "Error: DataTestsFailed" in message
    assert "1 failed and 1 errored of 30 dbt tests" in message
    assert "not_null_fct_events_user_id" in message
    assert "accepted_values_fct_events_event_type" in message
    assert alert["Subject"].endswith("stage tests")


def test_the_subject_fits_sns_for_every_stage():
    # SNS rejects subjects over 100 characters; the subject uses only bounded fields.
    for stage in ("DbtStagingFailed", "DbtMartsFailed", "DbtTestsFailed"):
        run_input = {**base_input(), "error": {"Error": "E" * 500, "Cause": "c" * 5000}}
        subject = render(stage, run_input)["Subject"]
        assert len(subject) <= 100 and "\n" not in subject, subject
