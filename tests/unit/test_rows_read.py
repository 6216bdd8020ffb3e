"""Rows read per model on the local target: DuckDB's profiler output, read back by the
dbt-executor (the iceberg_table materialization writes it next to the model's parquet)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_runtime.handlers.dbt_executor import rows_read

from tests.runtime_settings import test_settings

pytestmark = pytest.mark.unit


def settings(tmp_path: Path, target: str):
    return test_settings(
        tmp_path, target=target, raw_database="raw", curated_database="curated",
        elementary_database="elementary", duckdb_path=str(tmp_path / "w.duckdb"),
    )  # fmt: skip


def profiled(output: Path, statement: str) -> None:
    """Run one statement the way dbt_project/macros/materializations/iceberg_table.sql does:
    under DuckDB's JSON profiler, writing its profile to `output`."""
    conn = duckdb.connect()
    conn.execute("set enable_profiling = 'json'")
    conn.execute("""set custom_profiling_settings = '{"OPERATOR_CARDINALITY": "true"}'""")
    conn.execute(f"set profiling_output = '{output}'")
    conn.execute(statement)
    conn.execute("pragma disable_profiling")


def test_rows_read_is_what_duckdb_scanned_for_the_build_query(tmp_path):
    source = tmp_path / "raw.jsonl"
    source.write_text("".join(f'{{"id": {i}}}\n' for i in range(250)))
    profiled(
        tmp_path / "fct_x__inv1.profile.json",
        f"copy (select id from read_json('{source}') where id % 5 = 0) "
        f"to '{tmp_path / 'out.parquet'}' (format parquet)",
    )

    assert (
        rows_read(settings(tmp_path, "local"), "inv1", "fct_x") == 250
    )  # read from the file, before the filter
    assert not (tmp_path / "fct_x__inv1.profile.json").exists()  # read once, then removed
    assert rows_read(settings(tmp_path, "local"), "inv1", "fct_x") is None  # a view: no file
    assert rows_read(settings(tmp_path, "athena"), "inv1", "fct_x") is None


def test_raw_files_read_as_lines_count_their_lines_not_their_files(tmp_path):
    source = tmp_path / "raw.jsonl"
    source.write_text("".join(f'{{"id": {i}}}\n' for i in range(120)))
    # The shape of dbt_project/macros/raw_lines.sql: one row per file, split into lines.
    profiled(
        tmp_path / "fct_y__inv2.profile.json",
        f"copy (select line from (select unnest(string_split(content, chr(10))) as line "
        f"from read_text('{source}')) where line <> '') "
        f"to '{tmp_path / 'out.parquet'}' (format parquet)",
    )

    assert rows_read(settings(tmp_path, "local"), "inv2", "fct_y") == 121  # + the empty tail
