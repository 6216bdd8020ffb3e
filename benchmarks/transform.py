"""Time the transform alone: state machine executions (dbt staging, marts, tests through the
real Lambdas) started directly, as the DAG's start_transform would, and waited for."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

from lakehouse_ops.naming import PIPELINE
from local.lakehouse import Lakehouse

# The Airflow-side package, imported as Airflow has it (its plugins folder on the path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from lakehouse.run_plan import plan_run  # noqa: E402


def _start(lakehouse: Lakehouse, run_id: str, start: date, end: date, options: dict) -> str:
    """Record the run as the DAG's record_run_started does and start its execution with the
    input the DAG's run plan gives it."""
    params = {"interval_start": str(start), "interval_end": str(end)}
    params.update({k: v for k, v in options.items() if k in ("full_refresh", "lookback_days")})
    machine_input = plan_run(PIPELINE, run_id, None, None, params).state_machine_input()
    lakehouse.client("dynamodb").put_item(
        TableName=lakehouse.resources["names"]["runs_table"],
        Item={"pipeline": {"S": PIPELINE}, "run_id": {"S": run_id},
              "status": {"S": "RUNNING"}, "run_key": {"S": machine_input["run_key"]},
              "interval_start": {"S": str(start)}, "interval_end": {"S": str(end)},
              "started_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
              "stages": {"M": {}}},
    )  # fmt: skip
    return lakehouse.client("stepfunctions").start_execution(
        stateMachineArn=lakehouse.resources["state_machine_arn"],
        name=run_id,
        input=json.dumps(machine_input),
    )["executionArn"]


def execute_all(
    lakehouse: Lakehouse,
    runs: list[tuple[str, date, date]],
    at_a_time: int,
    timeout_s: float = 3600,
    **options,
) -> dict[str, dict]:
    """Run `(run_id, start, end)` executions, at most `at_a_time` at once, in the given order;
    each run's final status and cause."""
    sfn = lakehouse.client("stepfunctions")
    pending, running, ended = list(runs), {}, {}
    deadline = time.monotonic() + timeout_s
    while pending or running:
        while pending and len(running) < at_a_time:
            run_id, start, end = pending.pop(0)
            running[run_id] = _start(lakehouse, run_id, start, end, options)
        for run_id, arn in list(running.items()):
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                ended[run_id] = {"status": execution["status"], "cause": execution.get("cause")}
                del running[run_id]
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout_s}s: {sorted(running)}")
        time.sleep(0.2)
    return ended


def execute(lakehouse: Lakehouse, start: date, end: date, run_id: str, **options) -> float:
    """Seconds from StartExecution to SUCCEEDED for the interval [start, end)."""
    started = time.monotonic()
    outcome = execute_all(lakehouse, [(run_id, start, end)], 1, **options)[run_id]
    elapsed = time.monotonic() - started
    if outcome["status"] != "SUCCEEDED":
        raise RuntimeError(f"{run_id}: {outcome['status']} {(outcome['cause'] or '')[:500]}")
    return elapsed
