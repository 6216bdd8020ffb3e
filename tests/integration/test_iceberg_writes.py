"""Local incremental writes go through pyiceberg in one commit against the emulator's Glue
catalog and S3: a merge touches only its window, and a write that fails leaves the table at
its previous snapshot."""

from datetime import date, timedelta

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


def data_files(table) -> dict[date, set[str]]:
    """The data files of the current snapshot, by event_date partition."""
    files: dict[date, set[str]] = {}
    for task in table.scan().plan_files():
        day = date(1970, 1, 1) + timedelta(days=task.file.partition[0])  # Iceberg's date: days
        files.setdefault(day, set()).add(task.file.file_path)
    return files


def test_a_merge_writes_only_what_changes(iceberg_module):
    """New keys are appended without rewriting anything; a replaced row rewrites only its own
    partition; the table ends with exactly the rows the merge semantics give."""
    iceberg, database = iceberg_module
    table_name = "merge_layout_probe"
    d1, d2, d3 = date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)
    options = {
        "unique_key": ["event_id"],
        "partitioned_by": ["event_date"],
        "update_condition": "src.landed_on <= target.landed_on",
    }
    iceberg.write(
        database,
        table_name,
        rows(("a", d1, "2026-04-01"), ("b", d1, "2026-04-01"), ("c", d2, "2026-04-02")),
        **options,
    )
    table = iceberg.catalog().load_table((database, table_name))
    before = data_files(table)

    window = iceberg.MergeWindow("event_date", "2026-04-01", "2026-04-04")
    result = iceberg.write(
        database, table_name, rows(("d", d3, "2026-04-03"), ("e", d1, "2026-04-03")),
        window=window, **options,
    )  # fmt: skip
    assert (result["operation"], result["rows_written"]) == ("merge", 2)
    table = iceberg.catalog().load_table((database, table_name))
    after_insert = data_files(table)
    for partition, files in before.items():  # nothing rewritten, files only added
        assert files <= after_insert[partition]

    # b lands again earlier (wins, replaces its row in d1); c lands later (loses, nothing written)
    result = iceberg.write(
        database, table_name, rows(("b", d1, "2026-03-31"), ("c", d2, "2026-04-05")),
        window=window, **options,
    )  # fmt: skip
    assert result["rows_written"] == 1
    table = iceberg.catalog().load_table((database, table_name))
    after_update = data_files(table)
    assert after_update[d2] == after_insert[d2]  # c lost: its partition untouched
    assert after_update[d3] == after_insert[d3]
    assert not after_update[d1] & before[d1]  # d1 rewritten without the old b
    stored = {
        r["event_id"]: (r["event_date"], r["landed_on"])
        for r in table.scan().to_arrow().to_pylist()
    }
    assert stored == {
        "a": (d1, "2026-04-01"),
        "b": (d1, "2026-03-31"),
        "c": (d2, "2026-04-02"),
        "d": (d3, "2026-04-03"),
        "e": (d1, "2026-04-03"),
    }


def test_replacing_landing_days_keeps_other_days_and_rejects_rows_outside(iceberg_module):
    iceberg, database = iceberg_module
    table_name = "replace_probe"
    first, second = date(2026, 4, 1), date(2026, 4, 2)
    iceberg.write(
        database,
        table_name,
        rows(("old-1", first, "x"), ("old-2", first, "x"), ("kept", second, "x")),
        unique_key=["event_id"],
        partitioned_by=["event_date"],
    )
    days = iceberg.MergeWindow("event_date", "2026-04-01", "2026-04-02")
    result = iceberg.write(
        database,
        table_name,
        rows(("new", first, "y")),
        unique_key=["event_id"],
        partitioned_by=["event_date"],
        replace=days,
    )
    assert (result["operation"], result["rows_written"]) == ("replace", 1)
    table = iceberg.catalog().load_table((database, table_name))
    assert sorted(r["event_id"] for r in table.scan().to_arrow().to_pylist()) == ["kept", "new"]
    snapshot = table.current_snapshot().snapshot_id
    with pytest.raises(iceberg.MergeError, match="outside the replaced partitions"):
        iceberg.write(database, table_name, rows(("stray", second, "y")), replace=days)
    assert iceberg.catalog().load_table((database, table_name)).current_snapshot().snapshot_id == (
        snapshot
    )
    # Nothing left to replace with: the day's partitions are emptied.
    iceberg.write(database, table_name, rows(), replace=days)
    table = iceberg.catalog().load_table((database, table_name))
    assert [r["event_id"] for r in table.scan().to_arrow().to_pylist()] == ["kept"]


def stored_rows(table) -> dict[str, list[tuple]]:
    """event_id -> every (event_date, landed_on) the table holds for it."""
    held: dict[str, list[tuple]] = {}
    for r in table.scan().to_arrow().to_pylist():
        held.setdefault(r["event_id"], []).append((r["event_date"], r["landed_on"]))
    return held


def test_unique_across_table_matches_keys_outside_the_window_first_landing_wins(iceberg_module):
    """A redelivery stamped on another day than its first landing: the windowed merge cannot
    see the other row (two rows), the whole-table match keeps one, the first landing's, in
    either run order, rewriting only the partition that held the replaced row, in one commit."""
    iceberg, database = iceberg_module
    d, d5, d7 = date(2026, 5, 1), date(2026, 5, 6), date(2026, 5, 8)
    options = {
        "unique_key": ["event_id"],
        "partitioned_by": ["event_date"],
        "update_condition": "src.landed_on <= target.landed_on",
    }
    window_of = {  # lookback 2: the day's window
        d: iceberg.MergeWindow("event_date", "2026-04-29", "2026-05-02"),
        d5: iceberg.MergeWindow("event_date", "2026-05-04", "2026-05-07"),
    }

    # In order: x lands on d, then again on d+5 restamped to d+5: it stays once, from d.
    iceberg.write(database, "in_order_probe", rows(("x", d, "2026-05-01"), ("o", d7, "x")),
                  **options)  # fmt: skip
    before = data_files(iceberg.catalog().load_table((database, "in_order_probe")))
    result = iceberg.write(
        database, "in_order_probe", rows(("x", d5, "2026-05-06"), ("n", d5, "2026-05-06")),
        window=window_of[d5], unique_across_table=True, **options,
    )  # fmt: skip
    assert result["rows_written"] == 1  # n only: x lost to its first landing
    table = iceberg.catalog().load_table((database, "in_order_probe"))
    assert stored_rows(table)["x"] == [(d, "2026-05-01")]
    after = data_files(table)
    assert after[d] == before[d] and after[d7] == before[d7]  # nothing rewritten

    # Out of order: x lands on d+5 first, then the day d is run: x ends once, from d; the
    # partition d+5 (outside d's window) is rewritten without x, d+7 is untouched.
    iceberg.write(
        database, "out_of_order_probe",
        rows(("x", d5, "2026-05-06"), ("y", d5, "2026-05-06"), ("z", d7, "2026-05-08")),
        **options,
    )  # fmt: skip
    table = iceberg.catalog().load_table((database, "out_of_order_probe"))
    before, commits = data_files(table), len(table.metadata.metadata_log)
    result = iceberg.write(
        database, "out_of_order_probe", rows(("x", d, "2026-05-01")),
        window=window_of[d], unique_across_table=True, **options,
    )  # fmt: skip
    assert (result["operation"], result["rows_written"]) == ("merge", 1)
    table = iceberg.catalog().load_table((database, "out_of_order_probe"))
    held = stored_rows(table)
    assert held == {
        "x": [(d, "2026-05-01")],
        "y": [(d5, "2026-05-06")],
        "z": [(d7, "2026-05-08")],
    }
    after = data_files(table)
    assert not after[d5] & before[d5]  # rewritten without x
    assert after[d7] == before[d7]  # no replaced row there: untouched
    assert len(table.metadata.metadata_log) == commits + 1  # one commit

    # A rerun of either day changes nothing (the same landing replaces itself).
    for day, row in ((d5, ("x", d5, "2026-05-06")), (d, ("x", d, "2026-05-01"))):
        iceberg.write(database, "out_of_order_probe", rows(row), window=window_of[day],
                      unique_across_table=True, **options)  # fmt: skip
        table = iceberg.catalog().load_table((database, "out_of_order_probe"))
        assert stored_rows(table) == held

    # The defect it fixes: the windowed match alone leaves x twice.
    iceberg.write(database, "windowed_probe", rows(("x", d5, "2026-05-06")), **options)
    iceberg.write(database, "windowed_probe", rows(("x", d, "2026-05-01")),
                  window=window_of[d], **options)  # fmt: skip
    table = iceberg.catalog().load_table((database, "windowed_probe"))
    assert sorted(stored_rows(table)["x"]) == [(d, "2026-05-01"), (d5, "2026-05-06")]


def test_unique_across_table_still_refuses_rows_outside_the_window(iceberg_module):
    iceberg, database = iceberg_module
    window = iceberg.MergeWindow("event_date", "2026-05-01", "2026-05-02")
    with pytest.raises(iceberg.MergeError, match="1 row"):
        iceberg.write(
            database, "refused_probe", rows(("a", date(2026, 5, 3), "2026-05-03")),
            unique_key=["event_id"], window=window, unique_across_table=True,
        )  # fmt: skip


def test_rows_are_written_in_bounded_chunks_in_one_commit(iceberg_module, monkeypatch):
    """A day is handed to the Iceberg writer a chunk at a time (pyiceberg's partitioned write
    copies what it is given): still one commit per write, every row once, more data files."""
    iceberg, database = iceberg_module
    table_name = "chunk_probe"
    monkeypatch.setattr(iceberg, "WRITE_CHUNK_BYTES", 1)  # one row per chunk
    days = [date(2026, 4, 1), date(2026, 4, 2)]
    first = rows(*[(f"e{i}", days[i % 2], "2026-04-02") for i in range(6)])
    iceberg.write(
        database, table_name, first, unique_key=["event_id"], partitioned_by=["event_date"]
    )
    table = iceberg.catalog().load_table((database, table_name))
    assert len(table.inspect.files()) == 6  # one file per chunk: the chunks were real
    assert sorted(r["event_id"] for r in table.scan().to_arrow().to_pylist()) == [
        f"e{i}" for i in range(6)
    ]
    commits = len(table.metadata.metadata_log)  # one metadata file per catalog commit
    # A merge that replaces a row of a partition and adds two rows: the partition rewritten
    # and the winners appended, chunked, in one commit (its delete and append snapshots).
    incoming = rows(("e0", days[0], "2026-04-01"), ("n1", days[1], "2026-04-02"),
                    ("n2", days[1], "2026-04-02"))  # fmt: skip
    result = iceberg.write(
        database, table_name, incoming, unique_key=["event_id"], partitioned_by=["event_date"],
        update_condition="src.landed_on < target.landed_on",
        window=iceberg.MergeWindow("event_date", "2026-04-01", "2026-04-03"),
    )  # fmt: skip
    assert (result["operation"], result["rows_written"]) == ("merge", 3)
    table = iceberg.catalog().load_table((database, table_name))
    stored = {r["event_id"]: r["landed_on"] for r in table.scan().to_arrow().to_pylist()}
    assert stored == {**{f"e{i}": "2026-04-02" for i in range(1, 6)}, "e0": "2026-04-01",
                      "n1": "2026-04-02", "n2": "2026-04-02"}  # fmt: skip
    assert len(table.metadata.metadata_log) == commits + 1
