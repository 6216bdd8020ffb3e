"""loaded_events() (dbt_project/macros/loaded_events.sql) run by dbt on the local
target against the emulator: the events fct_events holds, read from the Glue catalog without
ref('fct_events') (each run has a fresh DuckDB file), empty before the table exists and on a
full refresh."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from tests.dbt_projects import REQUIRED_VARS

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LANDINGS = (
    "select event_id, landed_on from {{ loaded_events(['event_id', 'landed_on']) }} "
    "order by event_id"
)


@pytest.fixture
def dbt_env(lambda_env, tmp_path, monkeypatch):
    """This process runs dbt as the dbt-executor would, with a fresh DuckDB file and /tmp."""
    from dbt_runtime.settings import Settings

    monkeypatch.setenv("DBT_PROJECT_DIR", str(REPO / "dbt_project"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "run.duckdb"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings = Settings.from_env()
    dbt_vars = {
        "interval_start": "2026-06-01",
        "interval_end": "2026-06-02",
        "raw_bucket": lambda_env.raw_bucket,
        "run_key": "loadedprobe",
        "duckdb_path": settings.duckdb_path,
        **REQUIRED_VARS,
    }
    return settings, dbt_vars, lambda_env.curated_database


def test_loaded_events_reads_the_current_fct_events_from_the_catalog(dbt_env):
    from dbt_runtime import dbt_invocation, iceberg

    settings, dbt_vars, database = dbt_env
    assert dbt_invocation.show(settings, LANDINGS, dbt_vars) == []  # no table yet

    facts = pa.table(
        {
            "event_id": ["e1", "e2"],
            "user_id": ["u1", "u2"],
            "event_date": [date(2026, 5, 30), date(2026, 5, 31)],
            "landed_on": ["2026-05-30", "2026-05-31"],
        }
    )
    iceberg.write(database, "fct_events", facts, unique_key=["event_id"],
                  partitioned_by=["event_date"])  # fmt: skip
    assert dbt_invocation.show(settings, LANDINGS, dbt_vars) == [
        ("e1", "2026-05-30"),
        ("e2", "2026-05-31"),
    ]
    # The current snapshot, whichever run committed it: a later commit is seen at once.
    iceberg.write(
        database, "fct_events", facts.slice(0, 1).set_column(3, "landed_on", [["2026-05-29"]]),
        unique_key=["event_id"], partitioned_by=["event_date"],
    )  # fmt: skip
    assert dbt_invocation.show(settings, LANDINGS, dbt_vars) == [
        ("e1", "2026-05-29"),
        ("e2", "2026-05-31"),
    ]
    # More columns, for a model that fct_events' merge depends on (fct_events_moves).
    wider = "select * from {{ loaded_events(['event_id', 'event_date']) }} order by event_id"
    assert dbt_invocation.show(settings, wider, dbt_vars)[0] == ("e1", date(2026, 5, 30))


def test_on_a_full_refresh_nothing_counts_as_loaded(dbt_env):
    from dbt_runtime import dbt_invocation, iceberg

    settings, dbt_vars, database = dbt_env
    iceberg.write(
        database, "fct_events", pa.table({"event_id": ["f1"], "landed_on": ["2026-05-30"]}),
        unique_key=["event_id"],
    )  # fmt: skip

    def compiled(*flags: str) -> str:
        command = ["compile", *flags, "--inline", LANDINGS]
        result = dbt_invocation._invoke(settings, command, dbt_vars)
        assert result.success, result.exception
        return result.result.results[0].node.compiled_code

    assert "iceberg_scan('s3://" in compiled()
    refreshed = compiled("--full-refresh")
    assert "where 1 = 0" in refreshed and "iceberg_scan" not in refreshed
