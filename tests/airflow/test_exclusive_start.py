"""start_transform waits for a running execution of the state machine to end before it starts
its own (runs share the staging relations)."""

import pytest

pytestmark = pytest.mark.airflow


class FakeStepFunctions:
    def __init__(self, running_polls: int):
        self.running_polls = running_polls
        self.started = []

    def list_executions(self, **kwargs):
        assert kwargs["statusFilter"] == "RUNNING"
        if self.running_polls:
            self.running_polls -= 1
            return {"executions": [{"executionArn": "arn:other"}]}
        return {"executions": []}


def test_waits_until_no_execution_is_running(monkeypatch):
    from airflow.providers.amazon.aws.operators.step_function import (
        StepFunctionStartExecutionOperator,
    )
    from lakehouse.operators import ExclusiveStepFunctionStartExecutionOperator

    fake = FakeStepFunctions(running_polls=2)
    operator = ExclusiveStepFunctionStartExecutionOperator(
        task_id="start", state_machine_arn="arn:sm", poll_seconds=0
    )
    monkeypatch.setattr(
        type(operator), "hook", property(lambda self: type("H", (), {"conn": fake})())
    )
    monkeypatch.setattr(
        StepFunctionStartExecutionOperator, "execute", lambda self, context: "arn:mine"
    )
    assert operator.execute({}) == "arn:mine"
    assert fake.running_polls == 0
