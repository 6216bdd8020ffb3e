"""The environment contract of the dbt runtime functions.

Terraform (terraform/modules/workflow) and the local provisioner (local/provision.py) set exactly
these variables; tests/infra checks that every key read here is set by both.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

TARGETS = ("local", "athena")


class ConfigurationError(RuntimeError):
    """A required setting is missing or invalid: the function cannot run as configured."""


@dataclass(frozen=True)
class Settings:
    target: str
    dbt_project_dir: Path
    raw_bucket: str
    curated_bucket: str
    raw_database: str
    curated_database: str
    elementary_database: str
    athena_results_s3: str
    # Where the dbt-executor leaves each invocation's artifacts for the test-executor, which
    # records them in Elementary's tables (s3://bucket/prefix/).
    dbt_artifacts_s3: str
    duckdb_path: str
    # The run ledger's table: the marts stage takes its merge lock there (dbt_runtime.merge_lock).
    runs_table: str
    endpoint_url: str | None
    region: str
    tmp_dir: Path

    @classmethod
    def from_env(cls) -> Settings:
        def required(name: str) -> str:
            value = os.environ.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set")
            return value

        target = required("DBT_TARGET")
        if target not in TARGETS:
            raise ConfigurationError(f"DBT_TARGET must be one of {TARGETS}, got {target!r}")
        tmp_dir = Path(tempfile.gettempdir())
        duckdb_path = os.environ.get("DUCKDB_PATH", "")
        if target == "local" and not duckdb_path:
            raise ConfigurationError("DUCKDB_PATH must be set for the local target")
        return cls(
            target=target,
            dbt_project_dir=Path(required("DBT_PROJECT_DIR")),
            raw_bucket=required("RAW_BUCKET"),
            curated_bucket=required("CURATED_BUCKET"),
            raw_database=required("RAW_DATABASE"),
            curated_database=required("CURATED_DATABASE"),
            elementary_database=required("ELEMENTARY_DATABASE"),
            athena_results_s3=required("ATHENA_RESULTS_S3"),
            dbt_artifacts_s3=_s3_prefix(required("DBT_ARTIFACTS_S3")),
            duckdb_path=duckdb_path,
            runs_table=required("RUNS_TABLE"),
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            region=os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            tmp_dir=tmp_dir,
        )

    def for_run(self, run_key: str) -> Settings:
        """The settings of one run. Locally each run has a DuckDB file of its own beside
        DUCKDB_PATH, holding its run-scoped relations: DuckDB lets one process open a file at a
        time, and runs of different intervals execute at the same time (on Athena the run's
        relations are tables of their own in the shared catalog)."""
        if self.target != "local":
            return self
        path = Path(self.duckdb_path)
        return replace(
            self, duckdb_path=str(path.with_name(f"{path.stem}__{run_key}{path.suffix}"))
        )


def _s3_prefix(value: str) -> str:
    if not value.startswith("s3://") or len(value.removeprefix("s3://").split("/", 1)[0]) < 3:
        raise ConfigurationError(f"DBT_ARTIFACTS_S3 must be s3://bucket/prefix/, got {value!r}")
    return value if value.endswith("/") else value + "/"
