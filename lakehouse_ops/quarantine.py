"""The quarantined raw lines of a landing day (the `quarantined_events` mart).

  scripts/lakehouse quarantine --day 2026-11-20 [--reason malformed_json] [--limit 50]
  scripts/lakehouse --env sandbox quarantine --day 2026-11-20

One line per quarantined row: landed_on, source_file, line_number, reason, detail; then the
count per reason. Read through pyiceberg from the environment's Glue catalog (on AWS the same
rows are an Athena query away: docs/runbooks.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from lakehouse_ops.environment import Environment


def quarantined(env: Environment, day: date, reason: str | None = None) -> list[dict]:
    from pyiceberg.expressions import And, EqualTo

    table = env.iceberg_table("quarantined_events")
    row_filter = EqualTo("landed_on", day.isoformat())
    if reason:
        row_filter = And(row_filter, EqualTo("reason", reason))
    rows = table.scan(row_filter=row_filter).to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["source_file"], r["line_number"] or 0))


def show(env: Environment, day: date, reason: str | None, limit: int) -> int:
    rows = quarantined(env, day, reason)
    for row in rows[:limit]:
        line = "-" if row["line_number"] is None else row["line_number"]
        print(f"{row['landed_on']} {row['source_file']} {line} {row['reason']} {row['detail']}")
    if len(rows) > limit:
        print(f"... {len(rows) - limit} more (--limit)")
    counts = Counter(r["reason"] for r in rows)
    summary = ", ".join(f"{reason}={n}" for reason, n in counts.most_common()) or "none"
    print(f"{len(rows)} quarantined line(s) landed on {day}: {summary}")
    return 0
