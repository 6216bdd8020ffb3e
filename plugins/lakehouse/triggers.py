"""Triggers: the Amazon provider's, with what this pipeline needs on top."""

from __future__ import annotations

from airflow.providers.amazon.aws.triggers.step_function import (
    StepFunctionsExecutionCompleteTrigger,
)

# The provider's waiter `step_function_succeeded` knows SUCCEEDED, RUNNING, FAILED and ABORTED
# only: a TIMED_OUT execution matched nothing and was polled until the waiter gave up.
_EXECUTION_ENDED = [
    {"matcher": "path", "argument": "status", "expected": "SUCCEEDED", "state": "success"},
    *(
        {"matcher": "path", "argument": "status", "expected": status, "state": "failure"}
        for status in ("FAILED", "TIMED_OUT", "ABORTED")
    ),
]


class ExecutionEndTrigger(StepFunctionsExecutionCompleteTrigger):
    """StepFunctionsExecutionCompleteTrigger that also ends when the execution TIMED_OUT.

    Its event only says that the wait ended: the task that deferred reads the outcome (status,
    error and cause) with DescribeExecution when it resumes.
    """

    def __init__(self, **kwargs):
        kwargs.pop("waiter_config_overrides", None)  # fixed here, not serialized
        super().__init__(waiter_config_overrides={"acceptors": _EXECUTION_ENDED}, **kwargs)
