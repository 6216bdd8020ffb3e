"""dbt-duckdb plugin: what DuckDB needs to stand in for Athena on the local target.

- Loads httpfs/avro/iceberg from the extension wheels on PyPI: DuckDB cannot download
  extensions here (and a Lambda should not at run time).
- Points S3 at the endpoint in AWS_ENDPOINT_URL (the local emulator).
- Registers `lakehouse_iceberg_commit(database, table, parquet_path, options_json)`, which the
  `iceberg_table` materialization calls to commit a model's rows to its Iceberg table in the
  Glue catalog through pyiceberg; DuckDB cannot write to a Glue-cataloged Iceberg table itself.
- Registers `lakehouse_iceberg_metadata_location(database, table)`: the table's current
  metadata file in the Glue catalog (NULL when there is no such table), for `iceberg_scan` of a
  table this run has not built (macros/loaded_events.sql); each run has a fresh DuckDB file.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from dbt.adapters.duckdb.plugins import BasePlugin

from dbt_runtime import duckdb_memory, iceberg

# avro must be loaded before iceberg (iceberg reads its manifests through it).
EXTENSIONS = ("httpfs", "avro", "iceberg")


def configure(conn: duckdb.DuckDBPyConnection) -> None:
    """Make `conn` able to read the raw zone and the Iceberg tables (also used outside dbt)."""
    ext_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "duckdb_extensions"
    conn.execute(f"SET extension_directory = '{ext_dir}'")
    for name, value in duckdb_memory.settings().items():
        # dbt configures every connection it opens to the same database, and DuckDB refuses to
        # set the temporary directory again once something has spilled to it.
        current = conn.execute("SELECT current_setting(?)", [name]).fetchone()[0]
        if current != value:
            conn.execute(f"SET {name} = '{value}'")
    version = conn.execute("PRAGMA version").fetchone()[0]
    for name in EXTENSIONS:
        package = Path(importlib.import_module(f"duckdb_extension_{name}").__file__).parent
        path = package / "extensions" / version / f"{name}.duckdb_extension"
        conn.execute(f"INSTALL '{path}'")
        conn.execute(f"LOAD {name}")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        host = endpoint.split("://", 1)[-1].rstrip("/")
        conn.execute(
            f"""CREATE OR REPLACE SECRET lakehouse_s3 (TYPE s3,
                KEY_ID '{os.environ["AWS_ACCESS_KEY_ID"]}',
                SECRET '{os.environ["AWS_SECRET_ACCESS_KEY"]}',
                REGION '{region}', ENDPOINT '{host}', URL_STYLE 'path',
                USE_SSL {"true" if endpoint.startswith("https") else "false"})"""
        )
    else:
        conn.execute(
            f"CREATE OR REPLACE SECRET lakehouse_s3 (TYPE s3, PROVIDER credential_chain, "
            f"REGION '{region}')"
        )


def iceberg_commit(
    database: str,
    table: str,
    parquet_path: str,
    options_json: str,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> str:
    options = json.loads(options_json)
    unique_key = options.get("unique_key")
    if isinstance(unique_key, str):
        unique_key = [unique_key]
    window = options.get("window")
    replace = options.get("replace")
    data = pq.read_table(parquet_path)
    try:
        result = iceberg.write(
            database,
            table,
            data,
            unique_key=unique_key,
            partitioned_by=options.get("partitioned_by") or [],
            full_refresh=bool(options.get("full_refresh")),
            update_condition=options.get("update_condition"),
            window=iceberg.MergeWindow(**window) if window else None,
            replace=iceberg.MergeWindow(**replace) if replace else None,
            unique_across_table=bool(options.get("unique_across_table")),
            delete_condition=options.get("delete_condition"),
            insert_condition=options.get("insert_condition"),
            duckdb_connection=connection,
        )
    finally:
        os.unlink(parquet_path)
    return json.dumps(result)


def _register_udf(conn: duckdb.DuckDBPyConnection) -> None:
    def commit(database: str, table: str, parquet_path: str, options_json: str) -> str:
        # The merge reads the stored keys on a cursor of this connection's database.
        return iceberg_commit(database, table, parquet_path, options_json, conn)

    conn.create_function(
        "lakehouse_iceberg_commit",
        commit,
        ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"],
        "VARCHAR",
        side_effects=True,
    )
    conn.create_function(
        "lakehouse_iceberg_metadata_location",
        iceberg.metadata_location,
        ["VARCHAR", "VARCHAR"],
        "VARCHAR",
        null_handling="special",
        side_effects=True,  # the catalog changes as tables are committed: never cached
    )


class Plugin(BasePlugin):
    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        configure(conn)
        # Registered once on the connection; dbt's cursors share its function catalog.
        _register_udf(conn)
