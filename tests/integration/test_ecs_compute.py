"""compute=ecs: the dbt stages as an ECS task, through the real state machine on the local
stack (the ECS seam, local/ecs_runner.py, runs the task's entry point). The same interval built
on Lambda and on ECS gives the same marts; a task that exits non-zero fails the run like a
Lambda that raised, with the task's own error in the ledger."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from datetime import date

import boto3
import pytest
from lakehouse.ledger import RunLedger
from lakehouse.run_plan import execution_name, plan_run
from lakehouse.summary import format_run

from lakehouse_ops.naming import PIPELINE
from local import sample_data
from local.aws import REGION
from tests.marts import fingerprint
from tests.stacks import started_stack

pytestmark = [pytest.mark.integration, pytest.mark.cost(3)]
DAY = date(2026, 11, 20)
COMPARED = {
    "fct_events": ("event_id",),
    "dim_users": ("user_id",),
    "daily_metrics": ("event_date",),
}


def _session() -> boto3.Session:
    """A session with the local stack's credentials, as Airflow's AWS connection has them."""
    return boto3.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
    )


def run_interval(provisioned, lakehouse, run_id: str, params: dict) -> tuple[dict, dict]:
    """Start the state machine on the run's plan, as the DAG does, and wait for it to end;
    returns (the execution's description, the run's ledger record)."""
    return wait(lakehouse, run_id, start_interval(provisioned, lakehouse, run_id, params))


def start_interval(provisioned, lakehouse, run_id: str, params: dict) -> str:
    """Record the run and start its execution on the run's plan, as the DAG does."""
    plan = plan_run(PIPELINE, run_id, None, None, params)
    session = _session()
    ledger = RunLedger(
        provisioned.names.runs_table,
        dynamodb=session.resource("dynamodb", endpoint_url=provisioned.endpoint_url),
    )
    ledger.record_started(plan.as_dict(), triggered_by="test", run_type="manual")
    return lakehouse.client("stepfunctions").start_execution(
        stateMachineArn=provisioned.state_machine_arn,
        name=execution_name(plan.execution_name_base, 1),
        input=json.dumps(plan.state_machine_input()),
    )["executionArn"]


def wait(lakehouse, run_id: str, arn: str) -> tuple[dict, dict]:
    sfn = lakehouse.client("stepfunctions")
    deadline = time.monotonic() + 600
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution {arn} still running after 10 minutes"
        time.sleep(1)
    return execution, lakehouse.run(run_id)


def visited(lakehouse, execution_arn: str) -> list[str]:
    history = lakehouse.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    ]


def run_cost(provisioned, record: dict) -> dict:
    """The run's cost document, collected as the DAG does when its execution ends."""
    from lakehouse import cost

    return cost.collect(
        _session(), record, provisioned.names.raw_crawler, endpoint_url=provisioned.endpoint_url
    )


def build(stacks: ExitStack, directory, compute: str) -> dict:
    """A fresh stack (stopped when `stacks` closes) with the day written, built once with
    `compute`."""
    _, provisioned, lakehouse = stacks.enter_context(started_stack(directory))
    s3 = lakehouse.client("s3")
    sample_data.write_day(s3, provisioned.names.raw_bucket, DAY, events=400, seed=7)
    params = {
        "interval_start": DAY.isoformat(),
        "interval_end": date.fromordinal(DAY.toordinal() + 1).isoformat(),
        "compute": compute,
    }
    execution, record = run_interval(provisioned, lakehouse, f"manual__{compute}", params)
    return {
        "execution": execution,
        "record": record,
        "cost": run_cost(provisioned, record),
        "states": visited(lakehouse, execution["executionArn"]),
        "marts": fingerprint(lakehouse, COMPARED),
        "provisioned": provisioned,
        "lakehouse": lakehouse,
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The same day on fresh marts, on Lambda and on ECS, one stack each (the Lambda one
    stopped before the ECS one starts: two cores)."""
    with ExitStack() as lambda_stack:
        on_lambda = build(lambda_stack, tmp_path_factory.mktemp("lambda"), "lambda")
    with ExitStack() as ecs_stack:
        yield on_lambda, build(ecs_stack, tmp_path_factory.mktemp("ecs"), "ecs")


def test_lambda_and_ecs_build_the_same_marts(builds):
    on_lambda, on_ecs = builds
    for build_ in (on_lambda, on_ecs):
        assert build_["execution"]["status"] == "SUCCEEDED", build_["execution"].get("cause")
        assert build_["record"]["status"] == "SUCCEEDED"
    for build_, compute in ((on_lambda, "lambda"), (on_ecs, "ecs")):
        assert build_["record"]["compute"] == compute
        assert f"dbt ran on   {compute}" in format_run(build_["record"])
    assert on_lambda["marts"]["fct_events"][0] > 0
    assert on_ecs["marts"] == on_lambda["marts"]
    # Each build went the way its compute says, and recorded the same stages.
    assert "DbtStagingOnEcs" not in on_lambda["states"]
    assert {"DbtStagingOnEcs", "DbtMartsOnEcs"} <= set(on_ecs["states"])
    assert "DbtStaging" not in on_ecs["states"] and "DbtMarts" not in on_ecs["states"]
    assert set(on_ecs["record"]["stages"]) == set(on_lambda["record"]["stages"])
    for name in ("dbt_staging", "dbt_marts"):
        stage = on_ecs["record"]["stages"][name]
        assert stage["status"] == "SUCCEEDED"
        assert set(stage) == set(on_lambda["record"]["stages"][name])


def test_the_ecs_stages_cost_fargate_hours_of_the_task_definitions_size(builds):
    """A run's cost (what the DAG records when its execution ends) from the real history and
    task definition: the dbt stages of an ECS build are Fargate vCPU- and GB-hours, at least
    Fargate's minute each; the Lambda build's are Lambda GB-seconds."""
    from lakehouse import cost

    from local.provision import ECS_TASK

    on_lambda, on_ecs = builds
    documents = {"lambda": on_lambda["cost"], "ecs": on_ecs["cost"]}
    vcpu, memory_gb = ECS_TASK["cpu"] / 1024, ECS_TASK["memory_mb"] / 1024
    for name in ("dbt_staging", "dbt_marts"):
        on_task = documents["ecs"]["stages"][name]
        assert on_task["fargate_vcpu_hours"] >= vcpu * cost.FARGATE_MINIMUM_S / 3600 - 1e-6
        assert on_task["fargate_gb_hours"] == pytest.approx(
            on_task["fargate_vcpu_hours"] * memory_gb / vcpu, rel=1e-3
        )
        assert on_task["lambda_gb_s"] is None and on_task["usd"] > 0
        in_lambda = documents["lambda"]["stages"][name]
        assert in_lambda["fargate_vcpu_hours"] is None and in_lambda["lambda_gb_s"] > 0
    shown = "\n".join(cost.format_cost(documents["ecs"]))
    assert "Fargate" in shown and "vCPU-h" in shown


def test_a_task_that_exits_non_zero_fails_the_run_with_its_cause(builds):
    _, on_ecs = builds
    lakehouse = on_ecs["lakehouse"]
    params = {
        "interval_start": DAY.isoformat(),
        "interval_end": date.fromordinal(DAY.toordinal() + 1).isoformat(),
        "compute": "ecs",
        # plan_run checks names only; the dbt-executor knows the models and refuses.
        "full_refresh_models": ["no_such_model"],
    }
    execution, record = run_interval(
        on_ecs["provisioned"], lakehouse, "manual__ecs_failing", params
    )
    assert execution["status"] == "FAILED"
    assert (record["status"], record["failed_stage"]) == ("FAILED", "dbt_staging")
    # The task's own error, as a Lambda's would be recorded: its type and message.
    assert record["error"] == "InvalidEvent"
    assert record["cause"].startswith("cannot full-refresh ['no_such_model']")
    assert (execution["error"], execution["cause"]) == (record["error"], record["cause"])
    log = (lakehouse.stack.dir / "logs" / "ecs-tasks.log").read_text()
    assert "exit=1" in log
    alert = lakehouse.alerts()
    assert any("no_such_model" in json.dumps(message) for message in alert)


def test_a_task_killed_before_its_result_fails_the_run_and_a_rerun_builds_the_day(builds):
    """A task that leaves no result (here stopped while its staging runs, as ECS stops one out
    of memory or at its timeout) fails the run with EcsTaskFailed and how ECS saw it end; the
    interval is then built by a rerun, with the marts a clean build gives."""
    on_lambda, on_ecs = builds
    lakehouse, provisioned = on_ecs["lakehouse"], on_ecs["provisioned"]
    log = lakehouse.stack.dir / "logs" / "ecs-tasks.log"
    seen = log.read_text()
    params = {
        "interval_start": DAY.isoformat(),
        "interval_end": date.fromordinal(DAY.toordinal() + 1).isoformat(),
        "compute": "ecs",
    }
    arn = start_interval(provisioned, lakehouse, "manual__ecs_killed", params)
    deadline = time.monotonic() + 120
    while not (started := [line for line in log.read_text()[len(seen) :].splitlines()
                           if line.startswith("START ")]):  # fmt: skip
        assert time.monotonic() < deadline, "the staging task never started"
        time.sleep(0.2)
    task_arn = started[0].split()[1]
    stopped = lakehouse.client("ecs").stop_task(
        cluster=task_arn.split("/")[1], task=task_arn, reason="stopped by the test"
    )["task"]
    assert stopped["lastStatus"] == "STOPPED"
    execution, record = wait(lakehouse, "manual__ecs_killed", arn)
    assert execution["status"] == "FAILED"
    assert (record["status"], record["failed_stage"]) == ("FAILED", "dbt_staging")
    assert record["error"] == "EcsTaskFailed"
    assert record["cause"].startswith("the ECS task left no result at s3://")
    assert "stopped by the test" in record["cause"] or "143" in record["cause"], record["cause"]
    assert f"END {task_arn} exit=143" in log.read_text()  # SIGTERM: 128 + 15
    rerun_execution, rerun = run_interval(
        provisioned, lakehouse, "manual__ecs_killed_rerun", {**params, "compute": "lambda"}
    )
    assert rerun_execution["status"] == "SUCCEEDED" and rerun["status"] == "SUCCEEDED"
    assert fingerprint(lakehouse, COMPARED) == on_lambda["marts"]
