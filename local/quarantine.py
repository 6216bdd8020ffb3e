"""Show the quarantined raw lines of the local lakehouse (the `quarantined_events` table).

  python -m local.quarantine --day 2026-11-20 [--reason malformed_json] [--limit 50]

One line per quarantined row: landed_on, source_file, line_number, reason, detail; then the
count per reason. On AWS, query the same table in Athena (docs/runbooks.md).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date

from local.lakehouse import Lakehouse
from local.stack import LocalStack


def quarantined(lakehouse: Lakehouse, day: date, reason: str | None = None) -> list[dict]:
    from pyiceberg.expressions import And, EqualTo

    table = lakehouse.iceberg_table("quarantined_events")
    row_filter = EqualTo("landed_on", day.isoformat())
    if reason:
        row_filter = And(row_filter, EqualTo("reason", reason))
    rows = table.scan(row_filter=row_filter).to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["source_file"], r["line_number"] or 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show quarantined raw event lines of a day")
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="landing day (dt)")
    parser.add_argument("--reason", help="only this reason (e.g. malformed_json)")
    parser.add_argument("--limit", type=int, default=1000, help="rows to print at most")
    args = parser.parse_args(argv)
    lakehouse = Lakehouse(LocalStack())
    rows = quarantined(lakehouse, args.day, args.reason)
    for row in rows[: args.limit]:
        line = "-" if row["line_number"] is None else row["line_number"]
        print(f"{row['landed_on']} {row['source_file']} {line} {row['reason']} {row['detail']}")
    if len(rows) > args.limit:
        print(f"... {len(rows) - args.limit} more (--limit)")
    counts = Counter(r["reason"] for r in rows)
    summary = ", ".join(f"{reason}={n}" for reason, n in counts.most_common()) or "none"
    print(f"{len(rows)} quarantined line(s) landed on {args.day}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
