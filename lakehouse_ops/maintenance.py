"""Iceberg table maintenance of the marts: expire old snapshots, compact files.

  scripts/lakehouse maintain expire --older-than-days 7 [--table fct_events]
  scripts/lakehouse maintain compact [--table fct_events]
  scripts/lakehouse --env sandbox maintain expire --older-than-days 7

Through pyiceberg and the environment's Glue catalog, on AWS as locally. pyiceberg can expire
snapshots but has no file-rewrite action, so compacting rewrites a table's current rows in one
overwrite commit (one file per partition), which readers see atomically; on AWS, Athena's
`OPTIMIZE <table> REWRITE DATA USING BIN_PACK` and `VACUUM <table>` do the same in place
(docs/runbooks.md) and suit large tables better.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lakehouse_ops.environment import Environment

TABLES = ("fct_events", "dim_users", "daily_metrics")


def _files(table) -> int:
    return len(table.inspect.files()) if table.current_snapshot() else 0


def expire(env: Environment, name: str, older_than_days: int) -> str:
    table = env.iceberg_table(name)
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    current = table.current_snapshot()
    before = len(table.snapshots())
    old = [
        s.snapshot_id
        for s in table.snapshots()
        if s.timestamp_ms < cutoff.timestamp() * 1000 and (not current or s != current)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
    return f"{name}: {before} -> {len(table.refresh().snapshots())} snapshots"


def compact(env: Environment, name: str) -> str:
    table = env.iceberg_table(name)
    before = _files(table)
    rows = table.scan().to_arrow()
    table.overwrite(rows)
    return f"{name}: {before} -> {_files(table.refresh())} data files, {rows.num_rows} rows"
