"""The local merge (dbt_runtime.iceberg.merge_rows) has dbt-athena's MERGE semantics, and the
dbt-executor splits a partial full refresh into the right dbt selections."""

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from dbt_runtime import iceberg, run_request, selection
from dbt_runtime.dbt_invocation import InvalidEvent

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
FIRST_LANDING_WINS = "src.landed_on <= target.landed_on"


def events(*rows):
    return pa.Table.from_pylist(
        [{"event_id": e, "value": v, "landed_on": d} for e, v, d in rows],
        schema=pa.schema(
            [("event_id", pa.string()), ("value", pa.int64()), ("landed_on", pa.string())]
        ),
    )


def as_dict(table):
    return {r["event_id"]: (r["value"], r["landed_on"]) for r in table.to_pylist()}


def test_inserts_new_keys_and_keeps_untouched_rows():
    merged, written = iceberg.merge_rows(
        events(("a", 1, "d1"), ("b", 2, "d1")), events(("c", 3, "d2")), ["event_id"], None
    )
    assert as_dict(merged) == {"a": (1, "d1"), "b": (2, "d1"), "c": (3, "d2")}
    assert written == 1


def test_update_condition_decides_which_version_of_a_key_survives():
    current = events(("a", 1, "d1"), ("b", 2, "d3"))
    incoming = events(("a", 10, "d2"), ("b", 20, "d2"))  # a: later landing, b: earlier
    merged, written = iceberg.merge_rows(current, incoming, ["event_id"], FIRST_LANDING_WINS)
    assert as_dict(merged) == {"a": (1, "d1"), "b": (20, "d2")}
    assert written == 1
    # the same landing again (a rerun) replaces the row with itself
    again, _ = iceberg.merge_rows(merged, events(("b", 20, "d2")), ["event_id"], FIRST_LANDING_WINS)
    assert as_dict(again) == as_dict(merged)


def test_without_update_condition_the_new_row_wins():
    merged, _ = iceberg.merge_rows(
        events(("a", 1, "d1")), events(("a", 5, "d0")), ["event_id"], None
    )
    assert as_dict(merged) == {"a": (5, "d0")}


@pytest.mark.parametrize(
    "incoming, message",
    [
        (events(("a", 1, "d1"), ("a", 2, "d1")), "1 duplicate key"),
        (events((None, 1, "d1")), "1 null key"),
    ],
)
def test_keys_that_cannot_merge_are_rejected(incoming, message):
    with pytest.raises(iceberg.MergeError, match=message):
        iceberg.merge_rows(events(("z", 0, "d0")), incoming, ["event_id"], None)


def test_rows_outside_the_merge_window_are_rejected_before_anything_is_written():
    data = pa.table({"event_date": [date(2026, 1, 1), date(2026, 1, 9)], "event_id": ["a", "b"]})
    window = iceberg.MergeWindow("event_date", "2026-01-01", "2026-01-05")
    with pytest.raises(iceberg.MergeError, match="1 row"):
        iceberg.write("db", "t", data, unique_key=["event_id"], window=window)


def test_a_partial_full_refresh_is_two_dbt_invocations_per_stage():
    staging = selection.invocations("staging", False, ["fct_events"])
    build = ["build", "--select"]
    models_only = ["--indirect-selection", "empty"]
    assert [(s.args(), s.full_refresh) for s in staging] == [
        ([*build, "+fct_events,path:models/staging,resource_type:model", *models_only], True),
        (
            [*build, "path:models/staging,resource_type:model", *models_only,
             "--exclude", "+fct_events,path:models/staging"],
            False,
        ),
    ]  # fmt: skip
    marts = selection.invocations("marts", False, ["fct_events"])
    assert marts[0].select == "fct_events+,path:models/marts fct_events+,path:models/gold"
    assert marts[0].full_refresh and not marts[1].full_refresh
    # The marts' invocations also run the bad-row gate, before the marts it guards.
    assert [s.args() for s in selection.invocations("marts", True, [])] == [
        [*build,
         "path:models/marts,resource_type:model path:models/gold,resource_type:model tag:gate",
         *models_only]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "whole"),
    [
        ({}, False),
        ({"full_refresh": False, "full_refresh_models": []}, False),
        ({"full_refresh": True}, True),
        ({"full_refresh": False, "full_refresh_models": ["fct_events"]}, True),
    ],
)
def test_the_tests_read_whole_marts_only_after_a_full_refresh(event, whole):
    """A daily run's mart tests read its merge window (macros/test_scope.sql); after a full
    refresh of any mart every row was written again, and they read the whole tables."""
    assert selection.tests_read_whole_tables(event) is whole


def test_only_incremental_models_can_be_named_for_a_full_refresh():
    project = REPO / "dbt_project"
    assert selection.refreshable_models(project) == [
        "daily_metrics",
        "dim_users",
        "fct_events",
        "quarantined_events",
    ]
    event = {"full_refresh_models": ["fct_events", "stg_raw_events"]}
    with pytest.raises(InvalidEvent, match="stg_raw_events"):
        selection.requested_models(event, project)
    with pytest.raises(InvalidEvent, match="lookback_days"):
        selection.lookback_days({"lookback_days": 365})


def test_the_merge_is_decided_on_keys_and_the_columns_the_condition_reads():
    condition = (
        "(src.value > target.value"
        " or (src.value = target.value and src.landed_on >= target.landed_on))"
    )
    assert iceberg._target_columns(condition, ["event_id", "value", "landed_on", "other"]) == [
        "value",
        "landed_on",
    ]
    assert iceberg._target_columns('src."x" < target."Odd ""name"""', ['Odd "name"', "x"]) == [
        'Odd "name"'
    ]
    assert iceberg._target_columns(None, ["value"]) == []
    current = events(("a", 1, "d1"), ("b", 2, "d3"))
    incoming = events(("a", 10, "d2"), ("b", 20, "d2"), ("c", 3, "d2"))
    keys_only = current.select(["event_id", "landed_on"])  # `value` is never read from target
    plan = iceberg.plan_merge(keys_only, incoming, ["event_id"], FIRST_LANDING_WINS)
    assert as_dict(plan.winners) == {"b": (20, "d2"), "c": (3, "d2")}
    assert plan.replaced.to_pylist() == [{"event_id": "b"}]
    everything_wins = iceberg.plan_merge(keys_only, events(("z", 0, "d0")), ["event_id"], None)
    assert everything_wins.winners.num_rows == 1 and everything_wins.replaced.num_rows == 0


@pytest.mark.parametrize("value", [-0.1, 1.01, "0.1", True])
def test_a_bad_row_share_outside_0_to_1_is_rejected(value):
    with pytest.raises(InvalidEvent, match="max_bad_row_share"):
        selection.max_bad_row_share({"max_bad_row_share": value})


def test_the_bad_row_share_reaches_dbt_as_a_var():
    assert selection.max_bad_row_share({}) == run_request.OPTIONS["max_bad_row_share"]["default"]
    assert selection.max_bad_row_share({"max_bad_row_share": 0}) == 0.0
    assert selection.max_bad_row_share({"max_bad_row_share": 0.25}) == 0.25


def dated(*rows):
    return pa.Table.from_pylist(
        [
            {"event_id": e, "event_date": date.fromisoformat(day), "landed_on": landed}
            for e, day, landed in rows
        ]
    )


@pytest.mark.parametrize("order", ["in_order", "out_of_order"])
def test_first_landing_wins_in_either_order_and_names_the_partition_it_replaces(order):
    """x first lands on 05-01 (stamped 05-01) and again on 05-06 (stamped 05-06)."""
    first, redelivery = ("x", "2026-05-01", "2026-05-01"), ("x", "2026-05-06", "2026-05-06")
    current, incoming = (first, redelivery) if order == "in_order" else (redelivery, first)
    plan = iceberg.plan_merge(
        dated(current), dated(incoming), ["event_id"], FIRST_LANDING_WINS, ["event_date"]
    )
    if order == "in_order":  # the redelivery loses: nothing written, nothing replaced
        assert plan.written == 0 and plan.replaced.num_rows == 0
    else:  # the first landing wins and replaces the row in the other day's partition
        assert plan.winners.to_pylist() == dated(first).to_pylist()
        assert plan.replaced.to_pylist() == [{"event_id": "x", "event_date": date(2026, 5, 6)}]


@pytest.mark.parametrize("across", [False, True])
def test_unique_across_table_matches_keys_in_the_whole_table(monkeypatch, across):
    """The merge reads the window's rows to match keys, or every row's with unique_across_table;
    the rows written must lie in the window either way (checked before anything is read)."""
    from pyiceberg.expressions import AlwaysTrue

    matched = {}

    class Catalog:
        def load_table(self, identifier):
            return type("T", (), {"metadata_location": "s3://m.json"})()

    def merge_into(table, incoming, unique_key, update_condition, row_filter, **conditions):
        matched["filter"] = row_filter
        return incoming.num_rows

    monkeypatch.setattr(iceberg, "catalog", lambda: Catalog())
    monkeypatch.setattr(iceberg, "_load_or_create", lambda *a, **k: (object(), True))
    monkeypatch.setattr(iceberg, "_evolve_schema", lambda *a: None)
    monkeypatch.setattr(iceberg, "merge_into", merge_into)
    window = iceberg.MergeWindow("event_date", "2026-04-29", "2026-05-02")
    result = iceberg.write(
        "db", "t", dated(("x", "2026-05-01", "2026-05-01")), unique_key=["event_id"],
        window=window, unique_across_table=across,
    )  # fmt: skip
    assert result["operation"] == "merge"
    assert matched["filter"] == (AlwaysTrue() if across else window.expression())
    with pytest.raises(iceberg.MergeError, match="outside the merge window"):
        iceberg.write(
            "db", "t", dated(("y", "2026-05-06", "2026-05-06")), unique_key=["event_id"],
            window=window, unique_across_table=across,
        )  # fmt: skip


def test_delete_and_insert_conditions_follow_dbt_athenas_merge():
    """when matched and delete_condition then delete; when matched and update_condition then
    update; when not matched and insert_condition then insert (daily_metrics: a day left
    without events is removed, never inserted)."""
    current = events(("a", 1, "d1"), ("b", 2, "d1"), ("c", 3, "d1"))
    incoming = events(("a", 0, "d2"), ("b", 5, "d2"), ("n", 0, "d2"), ("m", 4, "d2"))
    plan = iceberg.plan_merge(
        current, incoming, ["event_id"], None,
        delete_condition="src.value = 0", insert_condition="src.value > 0",
    )  # fmt: skip
    assert as_dict(plan.winners) == {"b": (5, "d2"), "m": (4, "d2")}
    assert sorted(r["event_id"] for r in plan.replaced.to_pylist()) == ["a", "b"]
    kept = iceberg.kept_rows(current, plan.replaced, ["event_id"])
    assert as_dict(kept) == {"c": (3, "d1")}
    # a delete_condition may read the target; the merge then reads that column too
    assert iceberg._target_columns("target.value > src.value", ["event_id", "value"]) == ["value"]


def test_the_merge_holds_only_the_stored_keys_the_new_rows_share():
    """The stored keys are streamed (a batch reader) and only those the new rows share are
    kept: a whole-table match does not hold the table's history in memory."""
    stored = events(*[(f"k{i}", i, "d1") for i in range(1000)])
    reader = pa.RecordBatchReader.from_batches(stored.schema, stored.to_batches(max_chunksize=64))
    shared = iceberg.matching_rows(reader, events(("k7", 0, "d2"), ("new", 0, "d2")), ["event_id"])
    assert as_dict(shared) == {"k7": (7, "d1")}
