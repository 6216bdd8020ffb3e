"""Time the transform alone: one state machine execution (dbt staging, marts, tests through the
real Lambdas) started directly, as the DAG's start_transform would, and waited for."""

from __future__ import annotations

import json
import time
from datetime import date

from local.lakehouse import Lakehouse
from local.naming import PIPELINE


def execute(lakehouse: Lakehouse, start: date, end: date, run_id: str, **options) -> float:
    """Seconds from StartExecution to SUCCEEDED for the interval [start, end)."""
    sfn = lakehouse.client("stepfunctions")
    lakehouse.client("dynamodb").put_item(
        TableName=lakehouse.resources["names"]["runs_table"],
        Item={"pipeline": {"S": PIPELINE}, "run_id": {"S": run_id},
              "status": {"S": "RUNNING"}, "stages": {"M": {}}},
    )  # fmt: skip
    machine_input = {
        "pipeline": PIPELINE,
        "run_id": run_id,
        "interval": {"start": str(start), "end": str(end)},
        "full_refresh": False,
        "full_refresh_models": [],
        "lookback_days": 2,
        "max_bad_row_share": 0.05,  # the DAG param's default (plugins/lakehouse/run_plan.py)
        "resume_from": "dbt_staging",
        **options,
    }
    started = time.monotonic()
    arn = sfn.start_execution(
        stateMachineArn=lakehouse.resources["state_machine_arn"],
        name=run_id,
        input=json.dumps(machine_input),
    )["executionArn"]
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"{run_id}: {execution['status']} {execution.get('cause', '')[:500]}")
    return elapsed
