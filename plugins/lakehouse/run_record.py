"""The run ledger's contract (contracts/run_record.json): the table's key, the stages of a run in
order, the statuses and the shape of one record; and the DAG id, which is the pipeline's name in
contracts/naming.json. Terraform's metadata module and the local provisioner read the same key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
CONTRACT: dict = json.loads((CONTRACTS / "run_record.json").read_text())

DAG_ID: str = json.loads((CONTRACTS / "naming.json").read_text())["pipeline"]
HASH_KEY: str = CONTRACT["key"]["hash"]
RANGE_KEY: str = CONTRACT["key"]["range"]
STAGES: tuple[str, ...] = tuple(CONTRACT["stages"])
# The stages a redrive can start at, in order (the state machine's `resume_from` input).
TRANSFORM_STAGES: tuple[str, ...] = tuple(
    name for name, stage in CONTRACT["stages"].items() if stage["redrive_from"]
)
STATUSES: tuple[str, ...] = tuple(CONTRACT["statuses"])
SUMMARY_ATTRIBUTES: tuple[str, ...] = tuple(CONTRACT["summary_attributes"])


def record_schema() -> dict:
    """The JSON Schema of one record, with the statuses and stage names of the contract filled in
    (the file names each once, in `statuses` and `stages`)."""
    schema = copy.deepcopy(CONTRACT["record"])
    schema["properties"]["status"] = {"enum": list(STATUSES)}
    schema["properties"]["stages"]["propertyNames"] = {"enum": list(STAGES)}
    return schema


def shape_errors(record: dict) -> list[str]:
    """Where a record read back from the ledger breaks the contract (empty when it keeps it)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        record_schema(), format_checker=jsonschema.FormatChecker()
    )
    # DynamoDB returns numbers as Decimal, which JSON Schema's "number" does not know.
    plain = json.loads(json.dumps(record, default=float))
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(record)'}: {error.message}"
        for error in validator.iter_errors(plain)
    ]
