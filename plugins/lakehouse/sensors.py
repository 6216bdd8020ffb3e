"""Sensors that wait like the Amazon provider's and fail with what went wrong."""

from __future__ import annotations

from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor
from airflow.providers.common.compat.sdk import AirflowException


class StateMachineExecutionFailed(AirflowException):
    """The Step Functions execution ended in FAILED, TIMED_OUT or ABORTED."""


class StateMachineExecutionSensor(StepFunctionExecutionSensor):
    """StepFunctionExecutionSensor whose failure carries the execution's error and cause.

    The provider's sensor reports only the (empty) output of a failed execution; operators
    need the error name and the cause (e.g. dbt's message) in the task log and the exception.
    """

    def poke(self, context) -> bool:
        execution = self.hook.describe_execution(self.execution_arn)
        status = execution["status"]
        if status in self.FAILURE_STATES:
            error = execution.get("error") or status
            cause = execution.get("cause") or "(no cause reported)"
            raise StateMachineExecutionFailed(
                f"State machine execution {self.execution_arn} ended {status}: {error}: {cause}"
            )
        return super().poke(context)
