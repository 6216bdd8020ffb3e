"""The parsed-manifest cache of a warm dbt runtime environment, proven on the real project.

- The vars left out of the cache's key (dbt_invocation.RUNTIME_VARS) cannot change what dbt
  parses: the project parsed with other values of each gives the same manifest, on both
  targets. A var that does change it (the run key: run-scoped relation names) is seen to.
- Two runs of different days in one warm environment (this process, as a Lambda environment
  keeps its module state) each build and read their own run-scoped relations and merge the
  right days, while each run's invocations after its first reuse one parse.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from dbt_runtime import dbt_invocation

from tests.dbt_projects import REQUIRED_VARS

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"
BASE_VARS = {
    "interval_start": "2026-11-20",
    "interval_end": "2026-11-21",
    "raw_bucket": "raw",
    "run_id": "manual__1",
    "run_key": "ra",
    **REQUIRED_VARS,
}
# Other values of every runtime-only var (what differs between one run's invocations).
OTHER_RUNTIME_VALUES = {
    "max_bad_row_share": 0.5,
    "raw_lines": {"events": "/tmp/raw_lines-x/events.parquet"},
    "unreadable_objects": {
        "events_lines": [
            {
                "source_file": "s3://raw/events/dt=2026-11-20/x.jsonl.gz",
                "landed_on": "2026-11-20",
                "bytes": 10,
                "detail": "gzip",
            }
        ]
    },
}


def _comparable(value):
    """The manifest without what differs between any two parses (when, which invocation)."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in ("created_at",)}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def parsed(tmp_path: Path, target: str, dbt_vars: dict) -> dict:
    project = tmp_path / "project"
    if not project.exists():
        shutil.copytree(
            REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs")
        )
    out = tmp_path / f"target-{len(list(tmp_path.glob('target-*')))}"
    if target == "local":
        dbt_vars = {
            **dbt_vars,
            "duckdb_path": str(tmp_path / f"lakehouse__{dbt_vars['run_key']}.duckdb"),
        }
    result = subprocess.run(
        [str(DBT), "parse", "--no-partial-parse", "--target", target,
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(out), "--vars", json.dumps(dbt_vars)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("metadata")
    return _comparable(manifest)


@pytest.mark.parametrize("target", ["local", "athena"])
def test_the_runtime_vars_do_not_change_the_parsed_manifest(tmp_path, target):
    assert set(OTHER_RUNTIME_VALUES) == dbt_invocation.RUNTIME_VARS
    first = parsed(tmp_path, target, BASE_VARS)
    assert parsed(tmp_path, target, {**BASE_VARS, **OTHER_RUNTIME_VALUES}) == first
    # The comparison can fail: the run key is parse-relevant (it names run-scoped relations).
    # (lookback_days too: quarantined_events' incremental_predicates config reads it)
    assert parsed(tmp_path, target, {**BASE_VARS, "lookback_days": 5}) != first
    other_run = parsed(tmp_path, target, {**BASE_VARS, "run_key": "rb"})
    assert other_run != first
    staging = "model.lakehouse.stg_raw_event_lines"
    assert other_run["nodes"][staging]["alias"] == "stg_raw_event_lines__rb"
    assert first["nodes"][staging]["alias"] == "stg_raw_event_lines__ra"


@pytest.fixture
def warm_environment(lambda_env, tmp_path, monkeypatch):
    """This process as one warm dbt-executor environment: its module state (the cached
    manifest) lives across handler calls, as it does across a Lambda environment's
    invocations. Yields a function running one stage and the dbt parses seen so far."""
    import tempfile

    from dbt.cli.main import dbtRunner
    from dbt_runtime.handlers import dbt_executor

    from local.lambda_bootstrap import LambdaContext

    monkeypatch.setenv("DBT_PROJECT_DIR", str(REPO / "dbt_project"))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", lambda_env.dbt_executor_function)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    parses: list[str] = []
    original = dbtRunner.invoke

    def invoke(self, args, **kwargs):
        if args[0] == "parse":
            parses.append(json.loads(args[args.index("--vars") + 1])["run_key"])
        return original(self, args, **kwargs)

    monkeypatch.setattr(dbtRunner, "invoke", invoke)
    dbt_invocation.forget_manifest()

    def stage(select: str, run_key: str, day: str, end: str) -> dict:
        event = {
            "stage": f"dbt_{select}" if select != "cleanup" else "cleanup",
            "select": select,
            "pipeline": "lakehouse",
            "run_id": f"manual__{run_key}",
            "run_key": run_key,
            "interval": {"start": day, "end": end},
        }
        return dbt_executor.handler(event, LambdaContext(timeout_s=900))

    yield stage, parses
    dbt_invocation.forget_manifest()


def _relations(duckdb_path: str) -> set[str]:
    import duckdb

    conn = duckdb.connect(duckdb_path, read_only=True)
    try:
        rows = conn.execute("select table_name from information_schema.tables").fetchall()
    finally:
        conn.close()
    return {row[0] for row in rows}


def test_two_runs_in_one_warm_environment_each_use_their_own_relations(
    warm_environment, lambda_env
):
    import boto3
    from dbt_runtime.settings import Settings

    from local import sample_data
    from tests.accounting import raw_lines_per_day

    stage, parses = warm_environment
    settings = Settings.from_env()
    s3 = boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)
    days = ["2026-06-01", "2026-06-02", "2026-06-03"]
    for day in days[:2]:
        sample_data.write_day(s3, lambda_env.raw_bucket, date.fromisoformat(day), 300, seed=3)
    delivered = raw_lines_per_day(s3, lambda_env.raw_bucket, "events")

    records = {}
    for key, (day, end) in (("rmca", days[:2]), ("rmcb", days[1:])):
        records[key] = [stage("staging", key, day, end), stage("marts", key, day, end)]
    # One parse per run: staging, its accounting query, marts and theirs reuse it.
    assert parses == ["rmca", "rmcb"]
    for key, (day, _) in (("rmca", days[:2]), ("rmcb", days[1:])):
        staging, marts = records[key]
        relations = {m["name"]: m["relation"] for m in staging["models"]}
        assert relations["stg_raw_event_lines"].endswith(f'."stg_raw_event_lines__{key}"')
        assert f"warehouse__{key}" in relations["stg_raw_event_lines"]
        # Each run read its own day (accounting checked by the stage itself against the
        # stored marts) and its file holds its own relations only.
        assert set(staging["accounting"]["events"]) == {day}
        assert staging["accounting"]["events"][day]["delivered"] == delivered[day]
        assert marts["status"] == "SUCCEEDED"
        assert marts["accounting"]["events"][day]["delivered"] == delivered[day]
        tables = _relations(settings.for_run(key).duckdb_path)
        assert "stg_raw_event_lines__" + key in tables
        assert not any(t.endswith("__rmca" if key == "rmcb" else "__rmcb") for t in tables)
    # The cleanup of the first run after the second one parsed: its own key again, its own
    # relations dropped, the other run's left alone.
    stage("cleanup", "rmca", days[0], days[1])
    assert parses == ["rmca", "rmcb", "rmca"]
    assert not Path(settings.for_run("rmca").duckdb_path).exists()
    assert "stg_raw_event_lines__rmcb" in _relations(settings.for_run("rmcb").duckdb_path)
