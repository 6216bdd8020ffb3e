"""The run request: the options of one DAG run, from contracts/run_request.json.

The file (a JSON Schema) is the one definition of each option's type, default and bounds: the
DAG's Params are built from it, the run plan validates a run's params against it once, and the
dbt runtime reads the same file (lambdas/dbt_runtime/run_request.py). plugins/contracts is the
repository's contracts/ (a symlink locally, a folder of plugins.zip on MWAA).
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "contracts" / "run_request.json"
SCHEMA: dict = json.loads(SCHEMA_FILE.read_text())
OPTIONS: dict[str, dict] = SCHEMA["properties"]
DEFAULTS: dict = {name: spec["default"] for name, spec in OPTIONS.items()}


class InvalidRunRequest(ValueError):
    """A run's params break the run request's schema."""


def dag_params() -> dict:
    """The DAG's `params`: one Param per option, with the schema's keywords (Airflow validates
    them when a run is triggered and shows them in the trigger form)."""
    from airflow.sdk import Param

    return {
        name: Param(spec["default"], **{k: v for k, v in spec.items() if k != "default"})
        for name, spec in OPTIONS.items()
    }


def validated(params: dict) -> dict:
    """Every option, from `params` or its default, checked against the schema.

    An option given as None takes its default (Airflow passes None for an empty form field).
    """
    import jsonschema

    request = {
        name: DEFAULTS[name] if params.get(name) is None else params[name] for name in OPTIONS
    }
    checker = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    problems = sorted(checker.iter_errors(request), key=lambda e: list(e.path))
    if problems:
        raise InvalidRunRequest(
            "; ".join(_explain(p.path[0] if p.path else "", request) for p in problems)
        )
    return request


def _explain(name: str, request: dict) -> str:
    """`lookback_days must be an integer from 0 to 90, got 91`: the option's rule, in words."""
    spec = OPTIONS.get(name, {})
    kind = spec.get("type")
    kinds = [t for t in (kind if isinstance(kind, list) else [kind]) if t and t != "null"]
    words = {
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "string": "a date (YYYY-MM-DD)" if spec.get("format") == "date" else "a string",
        "array": "a list of model names",
    }
    rule = " or ".join(words.get(k, k) for k in kinds)
    if "enum" in spec:
        rule = "one of " + ", ".join(map(str, spec["enum"]))
    if "minimum" in spec and "maximum" in spec:
        rule += f" from {spec['minimum']} to {spec['maximum']}"
    return f"{name} must be {rule}, got {request.get(name)!r}"
