"""What the emulator adds so that Terraform's AWS provider can apply terraform/ to it.

moto answers every call the local provisioner makes, but the provider makes a few more, and
two of them fail in moto (5.2.x) where AWS succeeds:

- Step Functions ValidateStateMachineDefinition (called before every CreateStateMachine and
  UpdateStateMachine) is not implemented: moto answers 500 and the provider retries for its
  whole create timeout. Answered here by checking the structure every definition must have
  (valid JSON, StartAt naming a state, every Next/Default naming a state), the same checks a
  first deployment would fail on; ASL's full schema is checked by the infra tests.
- ListStateMachineVersions (read after every create) is not implemented either. moto keeps no
  versions, and the project's state machine publishes none, so the answer is the empty list
  AWS gives for it.
- PutBucketLogging reads the target bucket's policy and fails with a 500 on a statement whose
  Principal is the string "*" (moto expects a map) before it reaches the log-delivery grant;
  terraform/modules/storage puts the grant first instead (order means nothing to IAM), because
  rewriting the stored policy would show as a change in every plan.
"""

from __future__ import annotations

import json

VALIDATE_DEFINITION = "AWSStepFunctions.ValidateStateMachineDefinition"
LIST_VERSIONS = "AWSStepFunctions.ListStateMachineVersions"


def handles(environ) -> bool:
    return environ.get("HTTP_X_AMZ_TARGET") in (VALIDATE_DEFINITION, LIST_VERSIONS)


def answer(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if environ["HTTP_X_AMZ_TARGET"] == LIST_VERSIONS:
        return _json(start_response, {"stateMachineVersions": []})
    diagnostics = [
        {"severity": "ERROR", "code": code, "message": message, "location": location}
        for code, message, location in definition_problems(request.get("definition", ""))
    ]
    return _json(
        start_response,
        {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False},
    )


def _json(start_response, document: dict):
    body = json.dumps(document).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]


def definition_problems(definition: str) -> list[tuple[str, str, str]]:
    """(code, message, location) of each structural error in an ASL document."""
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as error:
        return [("INVALID_JSON_DESCRIPTION", f"not JSON: {error}", "/")]
    return _machine_problems(document, "")


def _machine_problems(machine, location: str) -> list[tuple[str, str, str]]:
    if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict):
        return [("SCHEMA_VALIDATION_FAILED", "States must be an object", location or "/")]
    states = machine["States"]
    problems = []
    if machine.get("StartAt") not in states:
        problems.append(
            ("MISSING_TRANSITION_TARGET", f"StartAt {machine.get('StartAt')!r} names no state",
             f"{location}/StartAt")
        )  # fmt: skip
    for name, state in states.items():
        here = f"{location}/States/{name}"
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
        for target in targets:
            if target is not None and target not in states:
                problems.append(
                    ("MISSING_TRANSITION_TARGET", f"{name} goes to {target!r}, no such state",
                     here)
                )  # fmt: skip
        for index, branch in enumerate(state.get("Branches", [])):
            problems += _machine_problems(branch, f"{here}/Branches/{index}")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                problems += _machine_problems(state[key], f"{here}/{key}")
    return problems
