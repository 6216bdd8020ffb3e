"""The run ledger's contract (contracts/run_record.json) against its writers: the state machine's
definition addresses records by the contract's key and records only the contract's stages under
their names, and a record breaking the contract's shape is reported field by field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lakehouse import run_record

pytestmark = pytest.mark.unit
ASL = Path(__file__).resolve().parents[2] / "terraform/modules/workflow/state_machine.asl.json"


def _states(definition: dict):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


def _definition() -> dict:
    # `${name}` placeholders sit inside JSON strings, so the template parses as JSON.
    return json.loads(ASL.read_text())


def test_the_state_machine_addresses_records_by_the_contracts_key():
    ledger_tasks = [
        (name, state)
        for name, state in _states(_definition())
        if state.get("Resource", "").startswith("arn:aws:states:::dynamodb:")
    ]
    assert ledger_tasks, "the state machine writes no ledger item"
    for name, state in ledger_tasks:
        assert set(state["Parameters"]["Key"]) == {run_record.HASH_KEY, run_record.RANGE_KEY}, name


def test_the_state_machine_records_the_contracts_transform_stages():
    written = set()
    for _, state in _states(_definition()):
        expression = state.get("Parameters", {}).get("UpdateExpression", "")
        written |= set(re.findall(r"stages\.(\w+)", expression))
    by_writer = {
        name for name, stage in run_record.CONTRACT["stages"].items()
        if stage["writer"] == "state_machine"
    }  # fmt: skip
    assert written == by_writer


def test_a_redrive_starts_only_at_a_stage_the_state_machine_can_resume():
    resumes = {
        rule["StringEquals"]
        for _, state in _states(_definition())
        for rule in state.get("Choices", [])
        if rule.get("Variable") == "$.resume_from"
    }
    # The first transform stage is the choice's default; every other one has its own branch.
    assert resumes == set(run_record.TRANSFORM_STAGES[1:])


def _record(**changes) -> dict:
    record = {
        "pipeline": run_record.DAG_ID,
        "run_id": "scheduled__2026-11-20T06:00:00+00:00",
        "status": "SUCCEEDED",
        "interval_start": "2026-11-19",
        "interval_end": "2026-11-20",
        "started_at": "2026-11-20T06:00:01.000+00:00",
        "updated_at": "2026-11-20T06:02:01.000+00:00",
        "finished_at": "2026-11-20T06:02:01.000Z",
        "triggered_by": "scheduler",
        "run_type": "scheduled",
        "stages": {"crawler": {"status": "SUCCEEDED"}, "tests": '{"status": "SUCCEEDED"}'},
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def test_a_record_of_the_contracts_shape_has_no_errors():
    assert run_record.shape_errors(_record()) == []


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"status": "DONE"}, "status: 'DONE' is not one of"),
        ({"stages": {"dbt_stage": {}}}, "stages: 'dbt_stage' is not one of"),
        ({"interval_end": "20.11.2026"}, "interval_end: '20.11.2026' is not a 'date'"),
        ({"run_id": None}, "(record): 'run_id' is a required property"),
        ({"stage": "tests"}, "Additional properties are not allowed ('stage' was unexpected)"),
    ],
)
def test_a_record_breaking_the_contract_is_reported(changes, error):
    errors = run_record.shape_errors(_record(**changes))
    assert any(error in message for message in errors), errors
