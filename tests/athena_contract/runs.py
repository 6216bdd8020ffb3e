"""dbt's athena target and the functions' handlers, run the way the Lambdas run them (their
selection, their vars, their events) in the Lambda image's interpreter (tests/athena_contract/
driver.py), against moto with Athena's query execution answered by a Recorder."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from lakehouse_ops.naming import PIPELINE, resource_names
from local.aws import CREDENTIALS_ENV
from local.provision import RUNS_TABLE_KEYS, lambda_environment
from tests.athena_contract import gateway
from tests.athena_contract.recorder import Recorder
from tests.image_env import clean_environment, image_python

REGION = "us-east-1"
# The names Terraform gives an environment (the naming rule), here environment `ci`.
NAMES = resource_names("lakehouse", "ci")
WORKGROUP = "lakehouse-ci"  # terraform/modules/naming: athena_workgroup
CURATED = NAMES.curated_database
# The raw zone's lines tables and their folders in the raw bucket.
RAW_LINES_TABLES = {"events_lines": "events", "users_lines": "users"}
# What lands in the raw bucket for the first run's day: lines per object. The handlers list,
# sniff and count them (dbt_runtime.raw_inputs); the Recorder answers the accounting queries
# with every line accepted, so the runs' own checks pass.
FIRST_DAY = "2026-11-20"
RAW_OBJECTS = {
    f"events/dt={FIRST_DAY}/part-0000.jsonl": 3,
    f"users/dt={FIRST_DAY}/users.jsonl": 2,
}
DRIVER = Path(__file__).with_name("driver.py")
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
    # whose role the calls are made with (terraform/modules/workflow: `lambda`'s each.key)
    function: str = "dbt_executor"
    # a handler's answer: {"result": ...} or {"error": name, "message": ...}
    answer: dict = field(default_factory=dict)


class Driver:
    """tests/athena_contract/driver.py in the image's interpreter, one request at a time."""

    def __init__(self, python: Path, env: dict[str, str], work: Path):
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "driver.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(python), "-I", str(DRIVER)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                env=env, cwd=work, text=True,
            )  # fmt: skip

    def request(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the driver stopped: {self.log.read_text()[-4000:]}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class Account:
    """One emulated AWS account: its catalog outlives the invocations run in it."""

    def __init__(self, project: Path, work: Path, aws: gateway.Gateway, driver: Driver):
        self.project = project
        self.work = work
        self.aws = aws
        self.driver = driver

    def invoke(
        self,
        args: list[str],
        dbt_vars: dict,
        recorder: Recorder | None = None,
    ) -> Invocation:
        """One dbt invocation, as the dbt-executor makes it."""
        recorder = recorder or Recorder()
        target = self.work / "target"
        with self.aws.recording(recorder):
            answer = self.driver.request(
                {
                    "op": "dbt",
                    "args": args,
                    "vars": dbt_vars,
                    "project": str(self.project),
                    "work": str(self.work),
                }
            )
        manifest = _manifest(target)
        return Invocation(args, dbt_vars, answer["success"], recorder, manifest, answer["scanned"])

    def handle(self, function: str, event: dict, recorder: Recorder | None = None) -> Invocation:
        """One invocation of a function's handler: its dbt invocations and its own calls (the
        raw inventory, the merge lease, artifacts, Elementary's tables)."""
        recorder = recorder or Recorder(accounting=RAW_OBJECTS)
        with self.aws.recording(recorder):
            answer = self.driver.request({"op": "handler", "function": function, "event": event})
        interval = event["interval"]
        vars_ = dbt_vars(interval["start"], interval["end"], event["run_key"], event["run_id"])
        manifest = _manifest(self.work / "tmp" / "dbt_target")
        args = [function, event.get("select") or event.get("mode") or "test"]
        return Invocation(args, vars_, "result" in answer, recorder, manifest, {}, function, answer)


def _manifest(target: Path) -> dict:
    manifest_file = target / "manifest.json"
    return json.loads(manifest_file.read_text()) if manifest_file.exists() else {}


@contextmanager
def account(project: Path, work: Path, python: Path | None = None) -> Iterator[Account]:
    """moto with the buckets, Glue databases and Athena workgroup Terraform creates (the
    workgroup enforces its result location, which changes what dbt-athena writes), and the
    function's environment. The code under test runs in `python` (the image's by default)."""
    saved = {key: os.environ.get(key) for key in (*ENVIRONMENT, "AWS_ENDPOINT_URL")}
    os.environ.update(ENVIRONMENT)
    try:
        with gateway.serve() as aws:
            os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
            s3 = aws.client("s3")
            for bucket in (NAMES.raw_bucket, NAMES.curated_bucket, NAMES.query_results_bucket):
                s3.create_bucket(Bucket=bucket)
            for key, lines in RAW_OBJECTS.items():
                body = "".join(f'{{"n": {n}}}\n' for n in range(lines))
                s3.put_object(Bucket=NAMES.raw_bucket, Key=key, Body=body.encode())
            aws.client("dynamodb").create_table(
                TableName=NAMES.runs_table, BillingMode="PAY_PER_REQUEST", **RUNS_TABLE_KEYS
            )
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
            env = clean_environment(
                **{
                    **ENVIRONMENT,
                    "AWS_ENDPOINT_URL": aws.endpoint_url,
                    "DBT_PROJECT_DIR": str(project),
                    "TMPDIR": str(work / "tmp"),
                }
            )
            (work / "tmp").mkdir(parents=True, exist_ok=True)
            driver = Driver(python or image_python(), env, work)
            try:
                yield Account(project, work, aws, driver)
            finally:
                driver.close()
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


def first_event(stage: str, **fields) -> dict:
    """The state machine's event for one stage of the first run."""
    return {
        "stage": stage,
        "run_id": "scheduled__ci",
        "run_key": "first",
        "execution_id": "arn:aws:states:us-east-1:123456789012:execution:x:first",
        "pipeline": PIPELINE,
        "interval": {"start": FIRST_DAY, "end": "2026-11-21"},
        **fields,
    }


def first_run(acct: Account) -> list[Invocation]:
    """The first run's stages through the dbt-executor's handler, as the state machine
    invokes it."""
    return [
        acct.handle("dbt_executor", first_event(f"dbt_{layer}", select=layer))
        for layer in ("staging", "marts")
    ]


def contract_runs(project: Path, work: Path) -> dict[str, Scenario]:
    """What a deployment meets first, in order: a first run (nothing exists) through the
    dbt-executor's handler, the test-executor's tests (its failure path and the cleanup
    too), a daily incremental run, the redrive of its marts stage (same run key:
    its run-scoped tables exist), a full refresh, and a backfill whose interval spans more
    than 100 days (partitions)."""
    with account(project, work) as acct:
        runs = [Scenario("first", first_run(acct))]
        tests = acct.handle("test_executor", first_event("tests"))
        record_only = acct.handle(
            "test_executor", first_event("record_artifacts", mode="record_only")
        )
        cleanup = acct.handle("dbt_executor", first_event("cleanup", select="cleanup"))
        runs.append(Scenario("tests", [tests, record_only, cleanup]))
        daily_vars = dbt_vars("2026-11-21", "2026-11-22", "daily")
        runs.append(pipeline(acct, "daily", daily_vars))
        runs.append(Scenario("redrive", [acct.invoke(stage_args("marts"), daily_vars)]))
        refresh_vars = dbt_vars("2026-11-22", "2026-11-23", "refresh")
        runs.append(pipeline(acct, "full_refresh", refresh_vars, full_refresh=True))
        backfill_vars = dbt_vars("2026-07-01", "2026-11-01", "backfill")
        runs.append(pipeline(acct, "backfill", backfill_vars, partitions=123))
    return {run.name: run for run in runs}
