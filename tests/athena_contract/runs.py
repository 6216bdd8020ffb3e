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

from local.aws import CREDENTIALS_ENV
from local.naming import resource_names
from local.provision import lambda_environment
from tests.athena_contract import gateway
from tests.athena_contract.recorder import Recorder

REGION = "us-east-1"
# The names Terraform gives an environment (the naming rule), here environment `ci`.
NAMES = resource_names("lakehouse", "ci")
WORKGROUP = "lakehouse-ci"  # terraform/modules/naming: athena_workgroup
CURATED = NAMES.curated_database
# The raw zone's lines tables and their folders in the raw bucket.
RAW_LINES_TABLES = {"events_lines": "events", "users_lines": "users"}
# The function's environment (the contract both provisioners set), on the athena target with
# the workgroup Terraform adds.
ENVIRONMENT = {
    **lambda_environment(NAMES, "athena", str(Path(__file__).parents[2] / "dbt_project")),
    "ATHENA_WORKGROUP": WORKGROUP,
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    **CREDENTIALS_ENV,
}


@dataclass(frozen=True)
class Invocation:
    """One dbt invocation and what it sent."""

    args: list[str]
    dbt_vars: dict
    success: bool
    recorder: Recorder
    manifest: dict
    # what the dbt runtime counts per node (dbt_runtime.athena_scans), as the Lambda does
    scanned: dict


class Account:
    """One emulated AWS account: its catalog outlives the invocations run in it."""

    def __init__(self, project: Path, work: Path, aws: gateway.Gateway):
        self.project = project
        self.work = work
        self.aws = aws

    def invoke(
        self,
        args: list[str],
        dbt_vars: dict,
        recorder: Recorder | None = None,
    ) -> Invocation:
        import json

        from dbt.cli.main import dbtRunner
        from dbt_runtime import athena_scans

        athena_scans.install()
        athena_scans.take()
        recorder = recorder or Recorder()
        target = self.work / "target"
        with self.aws.recording(recorder):
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
        scanned = athena_scans.take()
        return Invocation(args, dbt_vars, bool(result.success), recorder, manifest, scanned)


@contextmanager
def account(project: Path, work: Path) -> Iterator[Account]:
    """moto with the buckets, Glue databases and Athena workgroup Terraform creates (the
    workgroup enforces its result location, which changes what dbt-athena writes), and the
    function's environment."""
    saved = {key: os.environ.get(key) for key in (*ENVIRONMENT, "AWS_ENDPOINT_URL")}
    os.environ.update(ENVIRONMENT)
    try:
        with gateway.serve() as aws:
            os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
            s3 = aws.client("s3")
            for bucket in (NAMES.raw_bucket, NAMES.curated_bucket, NAMES.query_results_bucket):
                s3.create_bucket(Bucket=bucket)
            glue = aws.client("glue")
            for database in (CURATED, NAMES.raw_database, NAMES.elementary_database):
                glue.create_database(DatabaseInput={"Name": database})
            for table, folder in RAW_LINES_TABLES.items():  # terraform/modules/catalog
                glue.create_table(
                    DatabaseName=NAMES.raw_database,
                    TableInput={
                        "Name": table,
                        "TableType": "EXTERNAL_TABLE",
                        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                        "StorageDescriptor": {
                            "Columns": [{"Name": "line", "Type": "string"}],
                            "Location": f"s3://{NAMES.raw_bucket}/{folder}/",
                        },
                    },
                )
            aws.client("athena").create_work_group(
                Name=WORKGROUP,
                Configuration={
                    "ResultConfiguration": {"OutputLocation": ENVIRONMENT["ATHENA_RESULTS_S3"]},
                    "EnforceWorkGroupConfiguration": True,
                },
            )
            yield Account(project, work, aws)
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

    settings = SimpleNamespace(raw_bucket=NAMES.raw_bucket, target="athena")
    event = {"run_id": run_id, "run_key": run_key}
    interval = Interval(date.fromisoformat(start), date.fromisoformat(end))
    return runtime_vars(settings, event, interval)


def stage_args(layer: str, full_refresh: bool = False) -> list[str]:
    """The dbt-executor's invocation of a stage (one: no per-model refresh here)."""
    from dbt_runtime.selection import invocations

    (step,) = invocations(layer, full_refresh, [])
    return step.args() + (["--full-refresh"] if full_refresh else [])


@dataclass(frozen=True)
class Scenario:
    """A run of the pipeline's dbt stages (or its tests) and the invocations it made."""

    name: str
    invocations: list[Invocation]

    def statements(self):
        return [s for i in self.invocations for s in i.recorder.statements]

    def calls(self):
        return [c for i in self.invocations for c in i.recorder.calls]


def days(start: str, count: int) -> list[str]:
    first = date.fromisoformat(start).toordinal()
    return [date.fromordinal(first + n).isoformat() for n in range(count)]


def pipeline(acct: Account, name: str, dbt_vars: dict, full_refresh=False, partitions=0):
    """The staging then the marts stage of one run. `partitions`: Athena refuses the run's
    first write into each partitioned table (more than 100 open partitions) and reports that
    many distinct partition values, so dbt-athena takes its batching path."""
    invocations = []
    for layer in ("staging", "marts"):
        recorder = Recorder(
            too_many_partitions=partitions > 100,
            partition_values=days("2026-01-01", partitions),
        )
        invocations.append(acct.invoke(stage_args(layer, full_refresh), dbt_vars, recorder))
    return Scenario(name, invocations)


def contract_runs(project: Path, work: Path) -> dict[str, Scenario]:
    """What a deployment meets first, in order: a first run (nothing exists), the test
    executor's tests, a daily incremental run, the redrive of its marts stage (same run key:
    its run-scoped tables exist), a full refresh, and a backfill whose interval spans more
    than 100 days (partitions)."""
    with account(project, work) as acct:
        first_vars = dbt_vars("2026-11-20", "2026-11-21", "first")
        runs = [pipeline(acct, "first", first_vars)]
        tests = acct.invoke(["test", "--exclude", "tag:gate"], first_vars)
        runs.append(Scenario("tests", [tests]))
        daily_vars = dbt_vars("2026-11-21", "2026-11-22", "daily")
        runs.append(pipeline(acct, "daily", daily_vars))
        runs.append(Scenario("redrive", [acct.invoke(stage_args("marts"), daily_vars)]))
        refresh_vars = dbt_vars("2026-11-22", "2026-11-23", "refresh")
        runs.append(pipeline(acct, "full_refresh", refresh_vars, full_refresh=True))
        backfill_vars = dbt_vars("2026-07-01", "2026-11-01", "backfill")
        runs.append(pipeline(acct, "backfill", backfill_vars, partitions=123))
    return {run.name: run for run in runs}
