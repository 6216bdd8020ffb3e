"""The Athena SQL, checked offline: every model compiles for the athena target, and staging
reads only the interval's raw partitions unless it is a full refresh."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"
MODELS = ("stg_raw_events", "stg_raw_users", "fct_events", "dim_users")


def compile_athena(tmp_path: Path, *extra: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    dbt_vars = {"interval_start": "2026-11-20", "interval_end": "2026-11-21", "raw_bucket": "b"}
    result = subprocess.run(
        [str(DBT), "compile", "--target", "athena", "--no-populate-cache",
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--vars", json.dumps(dbt_vars), *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return project / "target" / "compiled" / "lakehouse" / "models"


def test_every_model_compiles_for_athena_and_staging_prunes_raw_partitions(tmp_path):
    compiled = compile_athena(tmp_path)
    for model in MODELS:
        assert list(compiled.rglob(f"{model}.sql")), f"{model} did not compile"
    for model in ("stg_raw_events", "stg_raw_users"):
        sql = next(compiled.rglob(f"{model}.sql")).read_text()
        assert "dt >= '2026-11-20' and dt < '2026-11-21'" in sql
        assert '"awsdatacatalog"' in sql  # the Glue table the crawler maintains


def test_full_refresh_reads_every_raw_partition(tmp_path):
    compiled = compile_athena(tmp_path, "--full-refresh")
    sql = next(compiled.rglob("stg_raw_events.sql")).read_text()
    assert "dt >=" not in sql and "1 = 1" in sql
