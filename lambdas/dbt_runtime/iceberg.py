"""Iceberg tables in the Glue catalog, through pyiceberg: the one writer of our tables.

Used by the dbt-duckdb plugin (marts on the local target) and by the Elementary results writer
(both targets). Every write is one Iceberg commit: readers see the previous snapshot or the new
one, never a half-written table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, GreaterThanOrEqual, LessThan

from dbt_runtime.settings import Settings

COMMIT_ATTEMPTS = 5


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    settings = Settings.from_env()
    properties = {"type": "glue", "glue.region": settings.region, "s3.region": settings.region}
    if settings.endpoint_url:  # the local emulator; on AWS the default endpoints are right
        properties.update(
            {
                "glue.endpoint": settings.endpoint_url,
                "s3.endpoint": settings.endpoint_url,
                "s3.path-style-access": "true",
            }
        )
    return load_catalog("glue", **properties)


def _table_location(database: str, table: str) -> str:
    settings = Settings.from_env()
    return f"s3://{settings.curated_bucket}/{database}/{table}"


def _evolve_schema(iceberg_table, schema: pa.Schema) -> None:
    """Add new columns (dbt's `append_new_columns`); a commit only when something changed."""
    known = {field.name for field in iceberg_table.schema().fields}
    if any(name not in known for name in schema.names):
        with iceberg_table.update_schema() as update:
            update.union_by_name(schema)


def _with_commit_retries(commit):
    """Run `commit` again when another writer committed first (optimistic concurrency)."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            return commit()
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _load_or_create(database: str, table: str, schema: pa.Schema, partitioned_by=()):
    """The table and whether it existed before."""
    cat = catalog()
    try:
        return cat.load_table((database, table)), True
    except NoSuchTableError:
        created = cat.create_table(
            (database, table), schema=schema, location=_table_location(database, table)
        )
        if partitioned_by:
            with created.update_spec() as spec:
                for column in partitioned_by:
                    spec.add_identity(column)
        return created, False


class MergeError(ValueError):
    """The rows cannot be merged as asked (nothing was committed)."""


@dataclass(frozen=True)
class MergeWindow:
    """The partitions a merge may read and rewrite: `column` in [start, end)."""

    column: str
    start: str
    end: str

    def expression(self):
        return And(GreaterThanOrEqual(self.column, self.start), LessThan(self.column, self.end))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def merge_rows(
    current: pa.Table, incoming: pa.Table, unique_key: list[str], update_condition: str | None
) -> tuple[pa.Table, int]:
    """MERGE semantics (dbt-athena's, aliases `src` and `target`) computed in memory.

    A key only in `incoming` is inserted; a key in both takes the incoming row when
    `update_condition` holds (always, without one); every other current row is kept.
    Returns the merged rows and how many incoming rows were written. DuckDB does the join:
    pyiceberg's upsert has no update condition and no way to bound its scan to a window.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("src", incoming)
        con.register("target", current)
        keys = ", ".join(_quote(k) for k in unique_key)
        null_keys = " OR ".join(f"{_quote(k)} IS NULL" for k in unique_key)
        nulls, duplicates = con.execute(
            f"SELECT count(*) FILTER (WHERE {null_keys}), count(*) - count(DISTINCT ({keys})) "
            "FROM src"
        ).fetchone()
        if nulls or duplicates:
            raise MergeError(
                f"cannot merge on {unique_key}: the new rows have {nulls} null key(s) and "
                f"{duplicates} duplicate key(s)"
            )
        on = " AND ".join(f"target.{_quote(k)} = src.{_quote(k)}" for k in unique_key)
        wins = f"coalesce(({update_condition}), false)" if update_condition else "true"
        matched = f"target.{_quote(unique_key[0])} IS NOT NULL"
        con.execute(
            f"""CREATE TEMP TABLE winners AS
                SELECT src.* FROM src LEFT JOIN target ON {on}
                WHERE NOT ({matched}) OR {wins}"""
        )
        written = con.execute("SELECT count(*) FROM winners").fetchone()[0]
        merged = con.execute(
            f"""SELECT * FROM winners
                UNION ALL BY NAME
                SELECT target.* FROM target
                WHERE NOT EXISTS (SELECT 1 FROM winners AS src WHERE {on})"""
        ).to_arrow_table()
        return merged, written
    finally:
        con.close()


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """`rows` with exactly the table's columns, in its order and types (missing ones null)."""
    columns = [
        rows[field.name].cast(field.type)
        if field.name in rows.column_names
        else pa.nulls(rows.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def write(
    database: str,
    table: str,
    data: pa.Table,
    *,
    unique_key: list[str] | None = None,
    partitioned_by: list[str] | None = None,
    full_refresh: bool = False,
    update_condition: str | None = None,
    window: MergeWindow | None = None,
) -> dict:
    """Write `data` in one commit and return the operation, rows written and metadata location.

    With a `unique_key` on an existing table: merge (see merge_rows), reading and rewriting only
    the partitions of `window` (the whole table without one). Otherwise, or on a full refresh:
    replace the table. A failure anywhere before the commit leaves the current snapshot as is.
    """
    if window is not None:
        outside = _count_outside(data, window)
        if outside:
            raise MergeError(
                f"{outside} row(s) of {database}.{table} fall outside the merge window "
                f"{window.column} in [{window.start}, {window.end})"
            )

    def commit() -> dict:
        iceberg_table, existed = _load_or_create(database, table, data.schema, partitioned_by)
        if existed:
            _evolve_schema(iceberg_table, data.schema)
        if unique_key and existed and not full_refresh:
            row_filter = window.expression() if window else AlwaysTrue()
            current = iceberg_table.scan(row_filter=row_filter).to_arrow()
            merged, rows = merge_rows(current, data, unique_key, update_condition)
            schema = iceberg_table.schema().as_arrow()
            iceberg_table.overwrite(_conform(merged, schema), overwrite_filter=row_filter)
            operation = "merge"
        else:
            iceberg_table.overwrite(data)
            operation, rows = "overwrite", data.num_rows
        return {
            "operation": operation,
            "rows_written": rows,
            "metadata_location": catalog().load_table((database, table)).metadata_location,
        }

    return _with_commit_retries(commit)


def _count_outside(data: pa.Table, window: MergeWindow) -> int:
    values = data[window.column]
    start, end = date.fromisoformat(window.start), date.fromisoformat(window.end)
    inside = pc.and_(
        pc.greater_equal(values, pa.scalar(start, values.type)),
        pc.less(values, pa.scalar(end, values.type)),
    )
    return data.num_rows - int(pc.sum(pc.fill_null(inside, False)).as_py() or 0)


def append(database: str, table: str, data: pa.Table) -> dict:
    """Append rows in one commit, retrying on concurrent commits (Elementary's tables)."""

    def commit() -> dict:
        iceberg_table, _ = _load_or_create(database, table, data.schema)
        iceberg_table.append(data)
        return {
            "operation": "append",
            "rows_written": data.num_rows,
            "metadata_location": catalog().load_table((database, table)).metadata_location,
        }

    return _with_commit_retries(commit)


def replace(database: str, table: str, data: pa.Table, key: str | None = None) -> dict:
    """Write `data` in one commit in place of the rows it supersedes: those whose `key` value is
    among `data`'s (every row without a key). Writing the same rows again changes nothing, so a
    retried or repeated write never duplicates (Elementary's tables, keyed by invocation id).
    A commit that lost to another writer is retried on the refreshed table."""
    from pyiceberg.expressions import In

    def commit() -> dict:
        iceberg_table, existed = _load_or_create(database, table, data.schema)
        if existed:
            _evolve_schema(iceberg_table, data.schema)
        if key and data.num_rows == 0:
            return {"operation": "replace", "rows_written": 0}
        values = sorted(set(data[key].to_pylist()) - {None}) if key else []
        row_filter = In(key, values) if key else AlwaysTrue()
        rows = _conform(data, iceberg_table.schema().as_arrow())
        if key and not values:
            iceberg_table.append(rows)  # nothing to supersede (no rows, or no keys)
        else:
            iceberg_table.overwrite(rows, overwrite_filter=row_filter)
        return {"operation": "replace", "rows_written": data.num_rows}

    return _with_commit_retries(commit)
