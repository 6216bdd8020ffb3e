"""A run's cost (plugins/lakehouse/cost.py): usage read from an execution history, the stages'
records and the crawls, priced per region; a figure nothing reports is n/a, never 0."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from lakehouse import cost
from lakehouse.summary import format_run

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
PRICES = cost.PRICES["regions"]["us-east-1"]


def history(*tasks: tuple[str, str, float], extra_states: int = 0) -> list[dict]:
    """An execution history with one Lambda task per (function, stage, seconds), in order."""
    events, clock, next_id = [], T0, 1

    def add(kind: str, previous: int | None, **details) -> int:
        nonlocal next_id
        events.append({"id": next_id, "type": kind, "timestamp": clock, "previousEventId": previous,
                       **details})  # fmt: skip
        next_id += 1
        return next_id - 1

    entered = add("TaskStateEntered", None)
    for function, stage, seconds in tasks:
        parameters = {"FunctionName": f"arn:aws:lambda:us-east-1:1:function:{function}",
                      "Payload": {"stage": stage}}  # fmt: skip
        scheduled = add(
            "TaskScheduled",
            entered,
            taskScheduledEventDetails={"resourceType": "lambda", "resource": "invoke",
                                       "parameters": json.dumps(parameters)},
        )  # fmt: skip
        started = add("TaskStarted", scheduled)
        clock += timedelta(seconds=seconds)
        add("TaskSucceeded", started)
        entered = add("TaskStateEntered", started)
    for _ in range(extra_states):
        add("ChoiceStateEntered", entered)
    return events


def record(target: str, scanned: list[int | None] | None = None) -> dict:
    models = [{"name": f"m{i}", "bytes_scanned": b} for i, b in enumerate(scanned or [])]
    return {
        "execution_arn": "arn:aws:states:us-east-1:1:execution:m:e",
        "stages": {
            "crawler": json.dumps({"started_at": T0.isoformat(), "ended_at": T0.isoformat()}),
            "dbt_staging": json.dumps({"target": target, "models": models}),
            "dbt_marts": json.dumps({"target": target, "models": models}),
        },
    }


MEMORY = {"dbt": 3008, "tests": 1024}.__getitem__


def test_lambda_seconds_times_memory_per_stage_and_one_transition_per_state():
    events = history(("dbt", "dbt_staging", 10), ("dbt", "dbt_marts", 20), ("tests", "tests", 5),
                     ("dbt", "cleanup", 2), extra_states=3)  # fmt: skip
    per_stage, transitions = cost.usage(record("athena", [100, 200]), events, MEMORY, [])
    assert per_stage["dbt_staging"].lambda_gb_s == pytest.approx(10 * 3008 / 1024)
    assert per_stage["dbt_marts"].lambda_gb_s == pytest.approx(20 * 3008 / 1024)
    assert per_stage["tests"].lambda_gb_s == pytest.approx(5 * 1024 / 1024)
    assert per_stage[cost.OTHER].lambda_requests == 1  # cleanup is the run's, not a stage's
    assert per_stage["dbt_staging"].athena_bytes == 300
    assert transitions == 5 + 3  # four task states, their first one's entry, three choices


def test_priced_figures_add_up_per_stage_and_in_total():
    events = history(("dbt", "dbt_staging", 60))
    per_stage, transitions = cost.usage(record("athena", [cost.TB]), events, MEMORY, [])
    document = cost.priced(per_stage, transitions, "us-east-1")
    staging = document["stages"]["dbt_staging"]
    lambda_usd = 60 * 3008 / 1024 * PRICES["lambda_usd_per_gb_second"]
    expected = lambda_usd + PRICES["lambda_usd_per_request"] + PRICES["athena_usd_per_tb_scanned"]
    assert staging["usd"] == pytest.approx(expected, abs=1e-6)
    machine = transitions * PRICES["step_functions_usd_per_transition"]
    marts = document["stages"]["dbt_marts"]["usd"]  # its Athena bytes, no Lambda task here
    assert document["total_usd"] == pytest.approx(expected + marts + machine, abs=1e-5)
    # The crawl reported no DPU-hours: not known, and not counted as 0.
    assert document["stages"]["crawler"]["crawler_dpu_hours"] is None
    assert document["not_known"] == ["crawler DPU-hours (crawler)"]


def test_what_the_local_target_cannot_know_is_n_a_never_0():
    events = history(("dbt", "dbt_staging", 30))
    per_stage, transitions = cost.usage(record("local", [None]), events, MEMORY, [])
    document = cost.priced(per_stage, transitions, "us-east-1")
    assert document["stages"]["dbt_staging"]["athena_bytes"] is None
    assert "Athena bytes scanned (dbt_staging)" in document["not_known"]
    shown = "\n".join(cost.format_cost(document))
    assert "Athena bytes n/a" in shown and "crawl DPU-h n/a" in shown
    assert "Athena 0 B" not in shown


def test_a_crawl_counts_only_within_its_stage_and_a_zero_is_not_a_figure():
    later = T0 + timedelta(hours=1)
    crawls = [{"StartTime": T0, "DPUHour": 0.25}, {"StartTime": later, "DPUHour": 9.0}]
    assert cost.crawl_dpu_hours(crawls, T0.isoformat(), T0.isoformat()) == 0.25
    assert cost.crawl_dpu_hours([{"StartTime": T0, "DPUHour": 0}], T0.isoformat(), None) is None
    assert cost.crawl_dpu_hours(crawls, None, None) is None


def test_a_region_without_prices_gives_usage_but_no_total():
    per_stage, transitions = cost.usage(record("athena", [5]), history(), MEMORY, [])
    document = cost.priced(per_stage, transitions, "ap-south-2")
    assert document["total_usd"] is None
    assert "prices for region ap-south-2" in document["not_known"]
    overridden = cost.priced(per_stage, transitions, "ap-south-2", dict(PRICES))
    assert overridden["total_usd"] is not None


def test_runs_show_prints_the_cost_or_says_it_is_not_recorded():
    base = {"run_id": "r", "status": "SUCCEEDED", "stages": {}}
    assert "cost         n/a (not recorded" in format_run(base)
    per_stage, transitions = cost.usage(record("athena", [1]), history(), MEMORY, [])
    document = cost.priced(per_stage, transitions, "us-east-1")
    shown = format_run({**base, "cost": json.dumps(document)})
    assert f"cost         ${document['total_usd']:.4f} USD" in shown


def ecs_history(stage: str, seconds: float) -> list[dict]:
    """An execution history with one ECS task (runTask.sync) running `stage` for `seconds`,
    with the parameters the state machine's DbtStagingOnEcs/DbtMartsOnEcs states send."""
    parameters = {
        "Cluster": "arn:aws:ecs:us-east-1:1:cluster/c",
        "TaskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/dbt:3",
        "LaunchType": "FARGATE",
        "Overrides": {"ContainerOverrides": [{"Name": "dbt", "Environment": [
            {"Name": "STAGE_EVENT", "Value": json.dumps({"stage": stage, "select": "x"})},
            {"Name": "STAGE_RESULT_S3", "Value": "s3://b/k.json"},
        ]}]},
    }  # fmt: skip
    details = {"resourceType": "ecs", "resource": "runTask.sync",
               "parameters": json.dumps(parameters)}  # fmt: skip
    return [
        {"id": 1, "type": "TaskStateEntered", "timestamp": T0, "previousEventId": None},
        {"id": 2, "type": "TaskScheduled", "timestamp": T0, "previousEventId": 1,
         "taskScheduledEventDetails": details},
        {"id": 3, "type": "TaskStarted", "timestamp": T0, "previousEventId": 2},
        # .sync: the task is submitted, then the state waits for it to stop
        {"id": 4, "type": "TaskSubmitted", "timestamp": T0, "previousEventId": 3},
        {"id": 5, "type": "TaskSucceeded", "timestamp": T0 + timedelta(seconds=seconds),
         "previousEventId": 4},
    ]  # fmt: skip


def task_size(task_definition: str) -> tuple[float, float]:
    assert task_definition.endswith("task-definition/dbt:3")
    return 2.0, 8.0  # 2 vCPU, 8 GB


def test_a_stage_run_on_ecs_costs_fargate_vcpu_and_memory_hours_with_the_minimum():
    per_stage, transitions = cost.usage(
        record("local"), ecs_history("dbt_marts", 1800), MEMORY, [], task_size
    )
    marts = per_stage["dbt_marts"]
    assert (marts.fargate_vcpu_hours, marts.fargate_gb_hours) == (1.0, 4.0)
    assert marts.lambda_requests == 0 and marts.lambda_gb_s is None
    document = cost.priced(per_stage, transitions, "us-east-1")
    expected = 1.0 * PRICES["fargate_usd_per_vcpu_hour"] + 4.0 * PRICES["fargate_usd_per_gb_hour"]
    assert document["stages"]["dbt_marts"]["usd"] == pytest.approx(expected, abs=1e-6)
    assert "Fargate 1.0000 vCPU-h, 4.0000 GB-h" in "\n".join(cost.format_cost(document))
    # Fargate bills at least a minute per task.
    short, _ = cost.usage(record("local"), ecs_history("dbt_staging", 5), MEMORY, [], task_size)
    assert short["dbt_staging"].fargate_vcpu_hours == pytest.approx(2.0 / 60)
