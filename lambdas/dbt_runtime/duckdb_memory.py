"""How much memory DuckDB may hold in a dbt runtime function, and where it spills past that.

Every DuckDB of the function gets these settings: dbt's connection on the local target
(dbt_runtime.duckdb_plugin) and the short-lived in-memory ones that plan an Iceberg merge
(dbt_runtime.iceberg). By default DuckDB may take 80% of the machine's memory and keeps freed
buffers; held to a limit it spills sorts, joins and aggregates to its temporary directory
instead, so a larger day gets slower, not killed.
"""

from __future__ import annotations

import os
from pathlib import Path

# DuckDB's share of the function's memory (per connection; the merge-planning connections only
# hold keys). An eighth: staging reads raw lines from the bounded reader's Parquet
# (dbt_runtime.raw_lines) and spills past it. On a 1M-event day each invocation then peaks
# under 1 GB in a fresh environment (staging 931 MB); in the same warm measurement staging
# peaked at 1098 MB instead of 1479 MB at a quarter, and 2 days of 1M took 40 s instead of 35 s
# (docs/benchmarks.md, 2026-12-07, the bounded line reader).
SHARE = 0.125
FLOOR_MB = 256


def limit_mb() -> int:
    """DuckDB's memory limit: a share of the Lambda function's memory (Lambda sets the size)."""
    function_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 3008)
    return max(FLOOR_MB, int(function_mb * SHARE))


def spill_directory() -> str:
    """Under the function's writable /tmp: an in-memory database would spill to `.tmp` in the
    working directory, which is read-only in a Lambda."""
    return str(Path(os.environ.get("TMPDIR", "/tmp")) / "duckdb_spill")


def settings(in_memory: bool = False) -> dict[str, str]:
    """The settings of a connection. A database file spills beside itself (`<file>.tmp`, where
    the run's DuckDB file is), and dbt configures each connection it opens to it: DuckDB refuses
    to switch a temporary directory once used, so only in-memory databases are given one."""
    values = {"memory_limit": f"{limit_mb()}MB"}
    if in_memory:
        values["temp_directory"] = spill_directory()
    return values
