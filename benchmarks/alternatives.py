"""What users would write instead, on the same raw files, for the side-by-side figures.

- `pandas_template`: the common Lambda ETL template: list the day's JSON-lines objects, read
  them with pandas, drop duplicate events, cast, aggregate per day, write Parquet.
- `duckdb_floor`: a bare DuckDB scan of the same files over S3 (the least any engine reading
  them must pay).
Both read the raw zone from the same endpoint as the pipeline.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import duckdb


def raw_keys(s3, bucket: str, prefixes: list[str]) -> list[str]:
    keys = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def pandas_template(s3, bucket: str, days: list[str], out_dir: Path) -> int:
    import pandas as pd

    frames = []
    for key in raw_keys(s3, bucket, [f"events/dt={day}/" for day in days]):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        frame = pd.read_json(io.BytesIO(body), lines=True, dtype=False)
        frame["landed_on"] = key.split("dt=")[1][:10]
        frames.append(frame)
    events = pd.concat(frames, ignore_index=True)
    events = events.sort_values(["event_id", "landed_on"]).drop_duplicates("event_id")
    events["event_ts"] = pd.to_datetime(events["event_ts"], utc=True, format="ISO8601")
    events["event_date"] = events["event_ts"].dt.date
    events["event_type"] = events["event_type"].str.lower()
    events["revenue"] = pd.to_numeric(events.get("revenue"), errors="coerce").round(2)
    events["properties"] = events["properties"].map(str)
    purchases = events["event_type"] == "purchase"
    metrics = (
        events.assign(purchase=purchases, purchase_revenue=events["revenue"].where(purchases))
        .groupby("event_date")
        .agg(
            events=("event_id", "count"),
            active_users=("user_id", "nunique"),
            purchases=("purchase", "sum"),
            revenue=("purchase_revenue", "sum"),
        )
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    events.to_parquet(out_dir / "fct_events.parquet", index=False)
    metrics.to_parquet(out_dir / "daily_metrics.parquet")
    return len(events)


def duckdb_floor(bucket: str, days: list[str]) -> int:
    # The same DuckDB set-up as the dbt-executor's (extensions, S3 endpoint): the Lambda code.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambdas"))
    from dbt_runtime.duckdb_plugin import configure

    conn = duckdb.connect()
    try:
        configure(conn)
        patterns = ", ".join(f"'s3://{bucket}/events/dt={day}/*.jsonl'" for day in days)
        return conn.execute(
            f"select count(*) from read_json([{patterns}], format = 'newline_delimited')"
        ).fetchone()[0]
    finally:
        conn.close()
