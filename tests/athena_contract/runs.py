"""dbt's athena target run in this process, the way the dbt-executor Lambda runs it (its
selection, its vars), against moto with Athena's query execution answered by a Recorder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from tests.athena_contract.recorder import Recorder, recording

REGION = "us-east-1"
CURATED = "lakehouse_ci_curated"
RAW = "lakehouse_ci_raw"
BUCKETS = {"curated": "lakehouse-ci-curated", "raw": "lakehouse-ci-raw", "results": "lakehouse-ci-qr"}
# What Terraform gives the dbt-executor (terraform/modules/workflow), with this harness' names.
ENVIRONMENT = {
    "DBT_TARGET": "athena",
    "CURATED_DATABASE": CURATED,
    "RAW_DATABASE": RAW,
    "CURATED_BUCKET": BUCKETS["curated"],
    "RAW_BUCKET": BUCKETS["raw"],
    "ATHENA_RESULTS_S3": f"s3://{BUCKETS['results']}/",
    "ATHENA_WORKGROUP": "primary",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class Invocation:
    """One dbt invocation and what it sent."""

    args: list[str]
    dbt_vars: dict
    success: bool
    recorder: Recorder
    manifest: dict


class Account:
    """One emulated AWS account: its catalog outlives the invocations run in it."""

    def __init__(self, project: Path, work: Path):
        self.project = project
        self.work = work

    def invoke(
        self,
        args: list[str],
        dbt_vars: dict,
        recorder: Recorder | None = None,
    ) -> Invocation:
        import json

        from dbt.cli.main import dbtRunner

        recorder = recorder or Recorder()
        target = self.work / "target"
        with recording(recorder):
            result = dbtRunner().invoke(
                [
                    *args,
                    "--project-dir", str(self.project),
                    "--profiles-dir", str(self.project),
                    "--target", "athena",
                    "--target-path", str(target),
                    "--log-path", str(self.work / "logs"),
                    "--vars", json.dumps(dbt_vars),
                ]
            )  # fmt: skip
        manifest_file = target / "manifest.json"
        manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
        return Invocation(args, dbt_vars, bool(result.success), recorder, manifest)


@contextmanager
def account(project: Path, work: Path) -> Iterator[Account]:
    """moto with the buckets and Glue databases Terraform creates, and the Lambda's env."""
    import boto3
    from moto import mock_aws

    saved = {key: os.environ.get(key) for key in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            for bucket in BUCKETS.values():
                s3.create_bucket(Bucket=bucket)
            glue = boto3.client("glue", region_name=REGION)
            for database in (CURATED, RAW):
                glue.create_database(DatabaseInput={"Name": database})
            yield Account(project, work)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_vars(start: str, end: str, run_key: str, run_id: str = "scheduled__ci") -> dict:
    """The vars the dbt-executor passes (dbt_runtime.dbt_invocation.dbt_vars)."""
    from dbt_runtime.dbt_invocation import Interval
    from dbt_runtime.dbt_invocation import dbt_vars as runtime_vars

    settings = SimpleNamespace(raw_bucket=BUCKETS["raw"], target="athena")
    event = {"run_id": run_id, "run_key": run_key}
    interval = Interval(date.fromisoformat(start), date.fromisoformat(end))
    return runtime_vars(settings, event, interval)


def stage_args(layer: str, full_refresh: bool = False) -> list[str]:
    """The dbt-executor's invocation of a stage (one: no per-model refresh here)."""
    from dbt_runtime.selection import invocations

    (step,) = invocations(layer, full_refresh, [])
    return step.args() + (["--full-refresh"] if full_refresh else [])
