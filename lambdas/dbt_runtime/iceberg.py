"""Iceberg tables in the Glue catalog, through pyiceberg: the one writer of our tables.

Used by the dbt-duckdb plugin (marts on the local target) and by the Elementary results writer
(both targets). Every write is one Iceberg commit: readers see the previous snapshot or the new
one, never a half-written table.
"""

from __future__ import annotations

import time
from functools import lru_cache

import pyarrow as pa
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError

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


def write(
    database: str,
    table: str,
    data: pa.Table,
    *,
    unique_key: list[str] | None = None,
    partitioned_by: list[str] | None = None,
    full_refresh: bool = False,
) -> dict:
    """Write `data` in one commit: merge on `unique_key` if given, else replace the table.

    Returns the operation, the rows written and the new metadata location.
    """

    def commit() -> dict:
        iceberg_table, existed = _load_or_create(database, table, data.schema, partitioned_by)
        if existed:
            _evolve_schema(iceberg_table, data.schema)
        if unique_key and existed and not full_refresh:
            result = iceberg_table.upsert(data, join_cols=unique_key)
            operation, rows = "merge", result.rows_updated + result.rows_inserted
        else:
            iceberg_table.overwrite(data)
            operation, rows = "overwrite", data.num_rows
        return {
            "operation": operation,
            "rows_written": rows,
            "metadata_location": catalog().load_table((database, table)).metadata_location,
        }

    return _with_commit_retries(commit)


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
