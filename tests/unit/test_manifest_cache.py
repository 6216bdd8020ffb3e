"""The dbt-executor's parsed-manifest cache (dbt_runtime.dbt_invocation): what its key holds and
when an invocation parses. That the vars left out of the key cannot change a manifest is proven
by parsing (tests/integration/test_manifest_cache.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from dbt_runtime import dbt_invocation

from tests.dbt_projects import project_copy
from tests.runtime_settings import test_settings

pytestmark = pytest.mark.unit

VARS = {
    "interval_start": "2026-11-20",
    "interval_end": "2026-11-21",
    "raw_bucket": "raw",
    "run_id": "manual__1",
    "run_key": "ra",
    "duckdb_path": "/tmp/lakehouse__ra.duckdb",
    "lookback_days": 2,
    "max_bad_row_share": 0.01,
}


@pytest.fixture
def settings(tmp_path):
    return test_settings(
        tmp_path, dbt_project_dir=project_copy(tmp_path), dbt_artifacts_s3="s3://artifacts/x/",
        duckdb_path="/tmp/lakehouse__ra.duckdb", tmp_dir=tmp_path / "tmp",
    )  # fmt: skip


def test_the_vars_that_differ_within_one_run_share_a_key(settings):
    key = dbt_invocation.manifest_key(settings, VARS)
    within_the_run = {
        **VARS,
        "max_bad_row_share": 0.2,
        "unreadable_objects": {"events_lines": [{"source_file": "s3://raw/x.gz"}]},
    }
    assert dbt_invocation.manifest_key(settings, within_the_run) == key


@pytest.mark.parametrize(
    "name, value",
    [
        ("run_key", "rb"),  # run-scoped relation names carry it
        ("duckdb_path", "/tmp/lakehouse__rb.duckdb"),  # the local database's name
        ("interval_start", "2026-11-19"),
        ("lookback_days", 5),  # quarantined_events' incremental_predicates config reads it
        ("run_id", "manual__2"),
        ("event_types", ["page_view"]),  # a var the runtime never passes: parse-relevant
    ],
)
def test_every_other_var_is_part_of_the_key(settings, name, value):
    assert dbt_invocation.manifest_key(settings, {**VARS, name: value}) != (
        dbt_invocation.manifest_key(settings, VARS)
    )


def test_a_changed_added_or_removed_project_file_changes_the_key(settings):
    root: Path = settings.dbt_project_dir
    keys = [dbt_invocation.manifest_key(settings, VARS)]
    macro = root / "macros" / "run_scoped.sql"
    macro.write_text(macro.read_text() + "\n")
    keys.append(dbt_invocation.manifest_key(settings, VARS))
    (root / "models" / "marts" / "extra.sql").write_text("select 1 as x")
    keys.append(dbt_invocation.manifest_key(settings, VARS))
    (root / "models" / "marts" / "extra.sql").unlink()
    (root / "models" / "marts" / "other.sql").write_text("select 1 as x")
    keys.append(dbt_invocation.manifest_key(settings, VARS))
    assert len(set(keys)) == len(keys)
    # What dbt writes itself (its target and logs) is not the project.
    (root / "target").mkdir()
    (root / "target" / "manifest.json").write_text("{}")
    assert dbt_invocation.manifest_key(settings, VARS) == keys[-1]


def test_the_env_vars_the_project_reads_are_part_of_the_key_and_no_others(settings, monkeypatch):
    monkeypatch.setenv("RAW_DATABASE", "raw_one")  # models/staging/_raw__sources.yml reads it
    monkeypatch.setenv("UNRELATED_SETTING", "a")
    key = dbt_invocation.manifest_key(settings, VARS)
    monkeypatch.setenv("UNRELATED_SETTING", "b")
    assert dbt_invocation.manifest_key(settings, VARS) == key
    monkeypatch.setenv("RAW_DATABASE", "raw_two")
    assert dbt_invocation.manifest_key(settings, VARS) != key
    assert dbt_invocation.manifest_key(replace(settings, target="athena"), VARS) != key
    assert dbt_invocation.manifest_key(replace(settings, tmp_dir=Path("/elsewhere")), VARS) != key


class FakeRunner:
    """dbt's programmatic runner, recording each invocation and the manifest it was given."""

    calls: list[tuple[str, object]] = []
    parse_fails = False
    command_raises = False

    def __init__(self, manifest=None):
        self.manifest = manifest

    def invoke(self, args):
        FakeRunner.calls.append((args[0], self.manifest))
        if args[0] == "parse":
            if FakeRunner.parse_fails:
                return SimpleNamespace(success=False, result=None, exception=None)
            return SimpleNamespace(success=True, result=object(), exception=None)
        error = RuntimeError("dbt stopped") if FakeRunner.command_raises else None
        return SimpleNamespace(success=error is None, result=None, exception=error)


@pytest.fixture
def runner(monkeypatch):
    import dbt.cli.main

    FakeRunner.calls, FakeRunner.parse_fails, FakeRunner.command_raises = [], False, False
    monkeypatch.setattr(dbt.cli.main, "dbtRunner", FakeRunner)
    dbt_invocation.forget_manifest()
    yield FakeRunner
    dbt_invocation.forget_manifest()


def test_one_parse_per_run_key_in_a_warm_environment(settings, runner):
    run_a = {**VARS, "unreadable_objects": {}}
    dbt_invocation._invoke(settings, ["run", "--select", "staging"], run_a)
    dbt_invocation._invoke(settings, ["show", "--inline", "select 1"], run_a)
    # the marts of the same run: other values of the runtime-only vars, the same parse
    dbt_invocation._invoke(
        settings, ["run", "--select", "marts"], {**VARS, "max_bad_row_share": 0.2}
    )
    run_b = {**VARS, "run_key": "rb", "duckdb_path": "/tmp/lakehouse__rb.duckdb"}
    dbt_invocation._invoke(settings, ["run", "--select", "staging"], run_b)
    dbt_invocation._invoke(settings, ["run", "--select", "marts"], run_b)
    commands = [command for command, _ in runner.calls]
    assert commands == ["parse", "run", "show", "run", "parse", "run", "run"]
    manifests = [manifest for command, manifest in runner.calls if command != "parse"]
    assert None not in manifests
    assert manifests[0] is manifests[1] is manifests[2]  # run A's
    assert manifests[3] is manifests[4] and manifests[3] is not manifests[0]  # run B's


def test_a_failed_parse_leaves_the_command_to_parse_and_report(settings, runner):
    runner.parse_fails = True
    dbt_invocation._invoke(settings, ["run"], VARS)
    dbt_invocation._invoke(settings, ["run"], VARS)
    assert runner.calls == [("parse", None), ("run", None)] * 2


def test_an_invocation_dbt_gave_up_on_drops_the_cached_manifest(settings, runner):
    runner.command_raises = True
    dbt_invocation._invoke(settings, ["run"], VARS)
    runner.command_raises = False
    dbt_invocation._invoke(settings, ["run"], VARS)
    assert [command for command, _ in runner.calls] == ["parse", "run", "parse", "run"]
