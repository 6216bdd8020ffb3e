"""The run options the state machine passes on (lookback_days, max_bad_row_share, ...), checked
against contracts/run_request.json: the schema the DAG built its params from and validated the
run with. A Lambda can also be invoked by hand, so its event is checked again here, against the
same file (lambdas/contracts is the repository's contracts/; the image carries it beside
dbt_runtime/).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from dbt_runtime.dbt_invocation import InvalidEvent

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "contracts" / "run_request.json"
OPTIONS: dict[str, dict] = json.loads(SCHEMA_FILE.read_text())["properties"]


def option(event: dict, name: str):
    """The event's value of the run option `name`, or the option's default when it has none."""
    spec = OPTIONS[name]
    value = event.get(name)
    if value is None:
        return spec["default"]
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(
            spec, format_checker=jsonschema.FormatChecker()
        ).iter_errors(value)
    )
    if error is not None:
        raise InvalidEvent(f"event.{name}: {error.message}")
    return value
