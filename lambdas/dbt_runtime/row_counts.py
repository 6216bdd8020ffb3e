"""Rows per model when the adapter does not report them (views; DuckDB's responses)."""

from __future__ import annotations

from dbt_runtime.settings import Settings


def count_rows(settings: Settings, relations: list[str]) -> dict[str, int]:
    """Count the rows each relation returns now. Only the local target is counted this way:
    on Athena a count is a paid scan, and CTAS/MERGE already report the rows they wrote."""
    if settings.target != "local" or not relations:
        return {}
    import duckdb

    from dbt_runtime.duckdb_plugin import configure

    counts: dict[str, int] = {}
    # Same configuration as dbt-duckdb's connection, which this process still holds.
    conn = duckdb.connect(settings.duckdb_path)
    try:
        configure(conn)
        for relation in relations:
            counts[relation] = conn.execute(f"select count(*) from {relation}").fetchone()[0]
    finally:
        conn.close()
    return counts
