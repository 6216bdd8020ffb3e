"""What the marts hold, in a form two builds can be compared by."""

from __future__ import annotations

import hashlib
import json

# Each mart and the key its rows are sorted by. Columns that name the run which wrote a row
# (quarantined_events' run_id, invocation_id) differ between two builds of the same data.
MARTS = {
    "fct_events": ("event_id",),
    "dim_users": ("user_id",),
    "daily_metrics": ("event_date",),
    "quarantined_events": ("quarantine_id",),
}
RUN_COLUMNS = {"run_id", "invocation_id"}


def fingerprint(lakehouse, marts: dict[str, tuple[str, ...]] = MARTS) -> dict:
    """Row count and a checksum of the content of each mart that exists (rows sorted by key)."""
    prints = {}
    for name, key in marts.items():
        try:
            table = lakehouse.table(name)
        except Exception as exc:  # noqa: BLE001 - a mart no run has written yet
            if type(exc).__name__ != "NoSuchTableError":
                raise
            prints[name] = (0, None)
            continue
        rows = [
            {k: v for k, v in row.items() if k not in RUN_COLUMNS}
            for row in table.sort_by([(k, "ascending") for k in key]).to_pylist()
        ]
        digest = hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode())
        prints[name] = (len(rows), digest.hexdigest())
    return prints
