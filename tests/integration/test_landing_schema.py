"""The landing schema is declared once (contracts/sources.json `datasets`): dbt staging takes its
field checks from it, through the var the dbt runtime passes. Declaring a new required field is
all it takes for staging to quarantine the lines that lack it."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DAY = "2026-03-10"
LINES = {
    "has-it": {"session_id": "s1"},
    "lacks-it": {},
    "numbered": {"session_id": 7},
}


def _event(event_id: str, **extra) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "user_id": "u1",
            "event_type": "page_view",
            "event_ts": f"{DAY}T10:00:00Z",
            **extra,
        }
    )


def _staged(tmp_path, monkeypatch, names, run_key: str) -> dict[str, tuple]:
    """The day's events through the dbt-executor's staging stage: event_id -> (disposition,
    reason, detail)."""
    import tempfile

    from dbt_runtime import dbt_invocation
    from dbt_runtime.dbt_invocation import Interval
    from dbt_runtime.handlers import dbt_executor
    from dbt_runtime.settings import Settings

    from local.lambda_bootstrap import LambdaContext

    tmp_path.mkdir(parents=True, exist_ok=True)  # a function's /tmp exists
    monkeypatch.setenv("DBT_PROJECT_DIR", str(REPO / "dbt_project"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    end = f"{DAY[:-2]}{int(DAY[-2:]) + 1:02d}"
    event = {
        "stage": "dbt_staging",
        "select": "staging",
        "run_id": run_key,
        "run_key": run_key,
        "interval": {"start": DAY, "end": end},
    }
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", names.dbt_executor_function)
    record = dbt_executor.handler(event, LambdaContext(timeout_s=900))
    assert record["status"] == "SUCCEEDED", record
    settings = Settings.from_env().for_run(run_key)
    # An accepted line's id is in its column; the others keep their text (DuckDB's JSON here).
    sql = (
        "select coalesce(event_id, json_extract_string(line, '$.event_id')), disposition, reason,"
        " detail from {{ ref('stg_raw_event_lines') }}"
    )
    rows = dbt_invocation.show(settings, sql, dbt_invocation.dbt_vars(
        settings, event, Interval.from_event(event)))  # fmt: skip
    dbt_invocation.release_local_database(settings)
    return {row[0]: row[1:4] for row in rows}


@pytest.fixture
def raw_day(lambda_env):
    from dbt_runtime.settings import Settings

    s3 = boto3.client("s3", endpoint_url=Settings.from_env().endpoint_url)
    key = f"events/dt={DAY}/landing-schema.jsonl"
    body = "".join(_event(name, **extra) + "\n" for name, extra in LINES.items())
    s3.put_object(Bucket=lambda_env.raw_bucket, Key=key, Body=body.encode())
    yield lambda_env
    s3.delete_object(Bucket=lambda_env.raw_bucket, Key=key)


def test_a_required_field_added_to_the_declaration_quarantines_the_lines_without_it(
    raw_day, tmp_path, monkeypatch
):
    from dbt_runtime import sources

    # As declared in the repository: session_id is nobody's field, every line is accepted.
    monkeypatch.delenv("INGEST_SOURCES_FILE", raising=False)
    as_declared = _staged(tmp_path / "before", monkeypatch, raw_day, "rschemabefore")
    assert {outcome[0] for outcome in as_declared.values()} == {"accepted"}, as_declared

    document = json.loads(sources.SOURCES_FILE.read_text())
    document["datasets"]["events"]["fields"]["session_id"] = {"type": "string", "required": True}
    changed = tmp_path / "sources.json"
    changed.write_text(json.dumps(document))
    monkeypatch.setenv("INGEST_SOURCES_FILE", str(changed))
    outcomes = _staged(tmp_path / "after", monkeypatch, raw_day, "rschemaafter")
    assert outcomes == {
        "has-it": ("accepted", None, None),
        "lacks-it": ("quarantined", "missing_required_field", "missing or null: session_id"),
        "numbered": ("quarantined", "wrong_type", "session_id is a number, not a string"),
    }
