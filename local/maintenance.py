"""Iceberg table maintenance for the local lakehouse: expire old snapshots, compact files.

  python -m local.maintenance expire --older-than-days 7 [--table fct_events]
  python -m local.maintenance compact [--table fct_events]

On AWS, Athena does both (docs/runbooks.md): `OPTIMIZE <table> REWRITE DATA USING BIN_PACK`
and `VACUUM <table>`. Locally the tables are written by pyiceberg, which can expire snapshots
but has no file-rewrite action; compacting is therefore a rewrite of the table's current rows
in one overwrite commit (one file per partition), which readers see atomically.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from local.lakehouse import Lakehouse
from local.stack import LocalStack

TABLES = ("fct_events", "dim_users", "daily_metrics")


def _files(table) -> int:
    return len(table.inspect.files()) if table.current_snapshot() else 0


def expire(lakehouse: Lakehouse, name: str, older_than_days: int) -> str:
    table = lakehouse.iceberg_table(name)
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


def compact(lakehouse: Lakehouse, name: str) -> str:
    table = lakehouse.iceberg_table(name)
    before = _files(table)
    rows = table.scan().to_arrow()
    table.overwrite(rows)
    return f"{name}: {before} -> {_files(table.refresh())} data files, {rows.num_rows} rows"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Maintain the local lakehouse's Iceberg tables")
    sub = parser.add_subparsers(dest="action", required=True)
    expire_parser = sub.add_parser("expire", help="expire snapshots older than N days")
    expire_parser.add_argument("--older-than-days", type=int, required=True)
    compact_parser = sub.add_parser("compact", help="rewrite each table's data files")
    for action in (expire_parser, compact_parser):
        action.add_argument("--table", choices=TABLES, action="append")
    args = parser.parse_args(argv)
    if args.action == "expire" and args.older_than_days < 0:
        parser.error("--older-than-days must be >= 0")
    lakehouse = Lakehouse(LocalStack())
    for name in args.table or TABLES:
        if args.action == "expire":
            print(expire(lakehouse, name, args.older_than_days))
        else:
            print(compact(lakehouse, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
