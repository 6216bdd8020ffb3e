"""Local incremental writes go through pyiceberg in one commit against the emulator's Glue
catalog and S3: a merge touches only its window, and a write that fails leaves the table at
its previous snapshot."""

from datetime import date

import pyarrow as pa
import pytest

pytestmark = pytest.mark.integration
WINDOW_COLUMNS = pa.schema(
    [("event_id", pa.string()), ("event_date", pa.date32()), ("landed_on", pa.string())]
)


@pytest.fixture
def iceberg_module(lambda_env):
    from dbt_runtime import iceberg

    return iceberg, lambda_env.curated_database


def rows(*items):
    return pa.Table.from_pylist(
        [{"event_id": e, "event_date": d, "landed_on": landed} for e, d, landed in items],
        schema=WINDOW_COLUMNS,
    )


def test_a_windowed_merge_keeps_other_partitions_and_a_failed_commit_changes_nothing(
    iceberg_module, monkeypatch
):
    iceberg, database = iceberg_module
    table_name = "merge_probe"
    day = date(2026, 3, 1)
    later = date(2026, 3, 10)
    iceberg.write(
        database,
        table_name,
        rows(("a", day, "2026-03-01"), ("b", later, "2026-03-10")),
        unique_key=["event_id"],
        partitioned_by=["event_date"],
    )
    window = iceberg.MergeWindow("event_date", "2026-03-09", "2026-03-11")
    result = iceberg.write(
        database,
        table_name,
        rows(("b", later, "2026-03-11"), ("c", later, "2026-03-10")),
        unique_key=["event_id"],
        partitioned_by=["event_date"],
        update_condition="src.landed_on <= target.landed_on",
        window=window,
    )
    assert (result["operation"], result["rows_written"]) == ("merge", 1)
    table = iceberg.catalog().load_table((database, table_name))
    stored = {r["event_id"]: r["landed_on"] for r in table.scan().to_arrow().to_pylist()}
    assert stored == {"a": "2026-03-01", "b": "2026-03-10", "c": "2026-03-10"}

    snapshot = table.current_snapshot().snapshot_id

    def fail_commit(*args, **kwargs):
        raise OSError("injected: the write died before its commit")

    with monkeypatch.context() as patched, pytest.raises(OSError, match="injected"):
        patched.setattr(type(iceberg.catalog()), "commit_table", fail_commit)
        iceberg.write(
            database,
            table_name,
            rows(("d", later, "2026-03-10")),
            unique_key=["event_id"],
            partitioned_by=["event_date"],
            window=window,
        )
    after = iceberg.catalog().load_table((database, table_name))
    assert after.current_snapshot().snapshot_id == snapshot
    assert after.scan().to_arrow().num_rows == 3
