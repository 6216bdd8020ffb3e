"""Elementary's `elementary_test_results` rows, built from dbt's artifacts.

The `elementary` dbt package cannot be installed here (no dbt hub), so we write its table
ourselves, with Elementary's column names and meanings, so `edr` can read it where installed.
Extra column: `invocation_id` (dbt's), to find one run's results without parsing ids.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

TEST_RESULTS_TABLE = "elementary_test_results"

TEST_RESULTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("data_issue_id", pa.string()),
        ("test_execution_id", pa.string()),
        ("test_unique_id", pa.string()),
        ("model_unique_id", pa.string()),
        ("invocation_id", pa.string()),
        ("detected_at", pa.timestamp("us")),
        ("database_name", pa.string()),
        ("schema_name", pa.string()),
        ("table_name", pa.string()),
        ("column_name", pa.string()),
        ("test_type", pa.string()),
        ("test_sub_type", pa.string()),
        ("test_results_description", pa.string()),
        ("owners", pa.string()),
        ("tags", pa.string()),
        ("test_results_query", pa.string()),
        ("other", pa.string()),
        ("test_name", pa.string()),
        ("test_params", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("failures", pa.int64()),
        ("test_short_name", pa.string()),
        ("test_alias", pa.string()),
        ("result_rows", pa.string()),
        ("failed_row_count", pa.int64()),
    ]
)


def _completed_at(result: dict) -> datetime:
    for timing in result.get("timing") or []:
        if timing.get("name") == "execute" and timing.get("completed_at"):
            stamp = datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
            return stamp.astimezone(UTC).replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def test_result_rows(invocation_id: str, results: list[dict], nodes: dict) -> list[dict]:
    rows = []
    for result in results:
        unique_id = result["unique_id"]
        if not unique_id.startswith("test."):
            continue
        node = nodes.get(unique_id, {})
        metadata = node.get("test_metadata") or {}
        model_id = node.get("attached_node") or next(
            iter((node.get("depends_on") or {}).get("nodes") or []), None
        )
        model = nodes.get(model_id or "", {})
        failures = result.get("failures")
        config = node.get("config") or {}
        rows.append(
            {
                "id": f"{invocation_id}.{unique_id}",
                "data_issue_id": None,
                "test_execution_id": f"{invocation_id}.{unique_id}",
                "test_unique_id": unique_id,
                "model_unique_id": model_id,
                "invocation_id": invocation_id,
                "detected_at": _completed_at(result),
                "database_name": model.get("database"),
                "schema_name": model.get("schema"),
                "table_name": model.get("alias") or model.get("name"),
                "column_name": node.get("column_name"),
                "test_type": "dbt_test",
                "test_sub_type": "generic" if metadata else "singular",
                "test_results_description": result.get("message"),
                "owners": json.dumps((config.get("meta") or {}).get("owner") or []),
                "tags": json.dumps(node.get("tags") or []),
                "test_results_query": node.get("compiled_code"),
                "other": None,
                "test_name": metadata.get("name") or node.get("name"),
                "test_params": json.dumps(metadata.get("kwargs") or {}, default=str),
                "severity": str(config.get("severity", "ERROR")).upper(),
                "status": result["status"],
                "failures": failures,
                "test_short_name": node.get("name"),
                "test_alias": node.get("alias"),
                "result_rows": None,
                "failed_row_count": failures,
            }
        )
    return rows


def as_arrow(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TEST_RESULTS_SCHEMA)
