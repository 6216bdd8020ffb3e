"""Operators: the Amazon provider's, with what this pipeline needs on top."""

from __future__ import annotations

import time

from airflow.providers.amazon.aws.operators.step_function import (
    StepFunctionStartExecutionOperator,
)


class ExclusiveStepFunctionStartExecutionOperator(StepFunctionStartExecutionOperator):
    """Start an execution only once no execution of the state machine is running.

    Executions of this pipeline share the staging relations (views over one run's interval),
    so two must never overlap. The DAG's max_active_runs does not cover backfill runs next to
    scheduled ones, so the DAG also sets max_active_tis_per_dag=1 on this task: starts are one
    at a time, and each waits here for the previous execution to end.
    """

    def __init__(self, *, poll_seconds: float = 30, **kwargs):
        super().__init__(**kwargs)
        self.poll_seconds = poll_seconds

    def execute(self, context):
        while True:
            running = self.hook.conn.list_executions(
                stateMachineArn=self.state_machine_arn, statusFilter="RUNNING", maxResults=10
            )["executions"]
            if not running:
                return super().execute(context)
            self.log.info(
                "Waiting for %s to end before starting this run's execution",
                ", ".join(e["executionArn"] for e in running),
            )
            time.sleep(self.poll_seconds)
