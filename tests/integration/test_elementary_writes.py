"""Elementary's writer against the emulator: dbt artifacts kept per execution in S3, and keyed
Iceberg writes that replace instead of adding, retried when another writer commits first."""

from __future__ import annotations

import pyarrow as pa
import pytest

pytestmark = pytest.mark.integration
KEYED = pa.schema([("invocation_id", pa.string()), ("unique_id", pa.string())])


@pytest.fixture
def runtime(lambda_env):
    """The dbt runtime's modules with the Lambda environment of the local stack."""
    from dbt_runtime import artifacts, iceberg
    from dbt_runtime.settings import Settings

    return artifacts, iceberg, Settings.from_env(), lambda_env.elementary_database


def keyed(*pairs) -> pa.Table:
    return pa.Table.from_pylist(
        [{"invocation_id": i, "unique_id": u} for i, u in pairs], schema=KEYED
    )


def test_artifacts_are_kept_per_execution_and_read_back_oldest_first(runtime):
    from dbt_runtime.dbt_invocation import DbtOutcome

    artifacts, _, settings, _ = runtime
    event = {
        "run_id": "scheduled__2026-11-21T06:00:00+00:00",
        "execution_id": "arn:aws:states:us-east-1:1:execution:sm:probe-t1",
        "interval": {"start": "2026-11-20", "end": "2026-11-21"},
    }

    def outcome(invocation_id: str, started: str) -> DbtOutcome:
        return DbtOutcome(
            command="run",
            success=False,
            invocation_id=invocation_id,
            results=[{"unique_id": "model.p.m", "status": "error", "message": "boom"}],
            manifest_nodes={
                "model.p.m": {"resource_type": "model", "name": "m", "raw_code": "x" * 1000},
                "macro.p.x": {"resource_type": "macro"},
            },
            metadata={"invocation_started_at": started},
        )

    artifacts.save(settings, event, "dbt_marts", outcome("inv-2", "2026-11-21T06:02:00Z"))
    uri = artifacts.save(settings, event, "dbt_staging", outcome("inv-1", "2026-11-21T06:01:00Z"))
    assert uri.startswith(settings.dbt_artifacts_s3) and uri.endswith("/probe-t1/inv-1.json")
    other = {**event, "execution_id": "arn:aws:states:us-east-1:1:execution:sm:probe-t2"}
    artifacts.save(settings, other, "dbt_staging", outcome("inv-3", "2026-11-21T07:00:00Z"))

    documents = artifacts.load(settings, event)
    assert [d["invocation_id"] for d in documents] == ["inv-1", "inv-2"]
    assert [d["stage"] for d in documents] == ["dbt_staging", "dbt_marts"]
    assert documents[0]["results"][0]["message"] == "boom"
    assert set(documents[0]["nodes"]) == {"model.p.m"}  # only the nodes the tables use
    assert "raw_code" not in documents[0]["nodes"]["model.p.m"]
    assert [d["invocation_id"] for d in artifacts.load(settings, other)] == ["inv-3"]


def test_a_keyed_write_replaces_the_rows_of_its_keys(runtime):
    _, iceberg, _, database = runtime
    table = "replace_probe"
    iceberg.replace(database, table, keyed(("a", "m1"), ("a", "m2")), "invocation_id")
    iceberg.replace(database, table, keyed(("a", "m1"), ("a", "m2")), "invocation_id")
    iceberg.replace(database, table, keyed(("b", "m1")), "invocation_id")
    current = iceberg.catalog().load_table((database, table)).scan().to_arrow().to_pylist()
    assert sorted((r["invocation_id"], r["unique_id"]) for r in current) == [
        ("a", "m1"),
        ("a", "m2"),
        ("b", "m1"),
    ]
    iceberg.replace(database, table, keyed(("c", "m9")), None)  # the whole table
    current = iceberg.catalog().load_table((database, table)).scan().to_arrow().to_pylist()
    assert current == [{"invocation_id": "c", "unique_id": "m9"}]


def test_a_write_that_loses_to_another_commit_is_retried_on_the_refreshed_table(
    runtime, monkeypatch, caplog
):
    _, iceberg, _, database = runtime
    table = "retry_probe"
    iceberg.replace(database, table, keyed(("a", "m1")), "invocation_id")
    real_load = iceberg._load_or_create
    loads = []

    def load_then_lose_the_race(*args, **kwargs):
        stale = real_load(*args, **kwargs)
        loads.append(stale)
        if len(loads) == 1:  # another writer commits between our read and our commit
            iceberg.catalog().load_table((database, table)).append(keyed(("other", "m7")))
        return stale

    monkeypatch.setattr(iceberg, "_load_or_create", load_then_lose_the_race)
    monkeypatch.setattr(iceberg.time, "sleep", lambda seconds: None)
    iceberg.replace(database, table, keyed(("a", "m1"), ("a", "m2")), "invocation_id")

    # The first commit lost the race; pyiceberg retries on the refreshed metadata itself, and
    # when its retries are spent, ours load the table again (a second load).
    lost = len(loads) == 2 or "concurrent update" in caplog.text
    assert lost, "the first commit should have conflicted with the other writer"
    current = iceberg.catalog().load_table((database, table)).scan().to_arrow().to_pylist()
    assert sorted((r["invocation_id"], r["unique_id"]) for r in current) == [
        ("a", "m1"),
        ("a", "m2"),
        ("other", "m7"),
    ]


def test_a_refused_commit_is_tried_again_on_a_freshly_loaded_table(runtime, monkeypatch):
    from pyiceberg.exceptions import CommitFailedException

    _, iceberg, _, database = runtime
    table = "refused_probe"
    real_load = iceberg._load_or_create
    loaded = []

    def load(*args, **kwargs):
        iceberg_table, existed = real_load(*args, **kwargs)
        loaded.append(iceberg_table)
        if len(loaded) == 1:  # the catalog refuses the first commit (pyiceberg gave up)

            def refuse(*_, **__):
                raise CommitFailedException("another writer committed first")

            monkeypatch.setattr(iceberg_table, "overwrite", refuse)
            monkeypatch.setattr(iceberg_table, "append", refuse)
        return iceberg_table, existed

    monkeypatch.setattr(iceberg, "_load_or_create", load)
    monkeypatch.setattr(iceberg.time, "sleep", lambda seconds: None)
    iceberg.replace(database, table, keyed(("a", "m1")), None)
    assert len(loaded) == 2 and loaded[0] is not loaded[1]
    current = iceberg.catalog().load_table((database, table)).scan().to_arrow().to_pylist()
    assert current == [{"invocation_id": "a", "unique_id": "m1"}]
