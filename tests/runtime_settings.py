"""The dbt runtime's Settings for unit tests: what the functions' environment would give, with
made-up names (no emulator), and the fields a test cares about overridden."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dbt_runtime.settings import Settings


def test_settings(tmp_path: Path, **overrides) -> Settings:
    settings = Settings(
        target="local",
        dbt_project_dir=tmp_path,
        raw_bucket="raw",
        curated_bucket="curated",
        raw_database="raw_db",
        curated_database="curated_db",
        elementary_database="elementary_db",
        athena_results_s3="s3://results/",
        dbt_artifacts_s3="s3://curated/dbt_artifacts/",
        duckdb_path=str(tmp_path / "x.duckdb"),
        runs_table="runs",
        endpoint_url=None,
        region="us-east-1",
        tmp_dir=tmp_path,
    )
    return replace(settings, **overrides)


test_settings.__test__ = False  # a factory, not a test
