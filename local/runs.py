"""`scripts/runs`: the run ledger CLI (plugins/lakehouse/runs_cli.py) for one environment.

  scripts/runs list                      the local stack (.local-stack, or $LAKEHOUSE_STATE_DIR)
  scripts/runs rerun 2026-11-20          run a day again through the local Airflow
  scripts/runs --env sandbox list        AWS: table from the naming rule, normal credentials
  scripts/runs --env sandbox --mwaa lakehouse-sandbox rerun 2026-11-20
                                         AWS: act through that MWAA environment's Airflow
  scripts/runs --table NAME show RUN     AWS: that table

Only the choice of table and endpoint, and how the local stack's Airflow is reached, live here
(the naming rule and the local stack are this side's); which runs a command means, listing and
formatting are the Airflow-side package's, shared with the DAG's logs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date

from local import airflow
from local.airflow import DAG_ID
from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from local.naming import PIPELINE, resource_names
from local.provision import REPO_ROOT

LOCAL_ENV = "local"


class LocalAirflow:
    """The local stack's Airflow, through its CLI (scripts/airflow): the metadata database is
    shared by `make airflow`'s scheduler and by foreground runs, so this works whether or not
    the scheduler is up. See runs_cli.act for what each method must do."""

    watch = "the Airflow UI (make airflow, http://127.0.0.1:8080 by default)"

    def __init__(self, stack):
        self.stack = stack

    def _cli(self, *args: str) -> subprocess.CompletedProcess:
        return airflow.run(list(args), stack=self.stack, capture_output=True, text=True)

    def _checked(self, *args: str) -> str:
        result = self._cli(*args)
        if result.returncode != 0:
            from lakehouse.mwaa_airflow import AirflowUnavailable  # on sys.path once main ran

            detail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise AirflowUnavailable(
                f"airflow {' '.join(args[:2])} failed: {' '.join(detail)} "
                f"(Airflow's logs: {self.stack.dir / 'airflow'})"
            )
        return result.stdout

    def scheduler_running(self) -> bool:
        # `jobs check` goes by heartbeats, which a busy machine delays past its threshold; a
        # foreground run next to a live scheduler would delete a run under it (as `dags test`
        # does) and crash it. The stack records the Airflow it started: that one is trusted.
        started_here = any(p.role == "airflow" for p in self.stack.registry.processes())
        if not started_here:
            result = self._cli(
                "jobs", "check", "--job-type", "SchedulerJob", "--allow-multiple", "--limit", "10"
            )  # fmt: skip
            if result.returncode != 0:
                return False
        # A paused DAG's cleared or triggered runs would wait for an unpause: run them here.
        details = self._cli("dags", "details", DAG_ID, "-o", "json")
        found = [line for line in details.stdout.splitlines() if line.startswith("[{")]
        # The CLI's JSON gives the flag as a string ("True").
        paused = str(json.loads(found[0])[0]["is_paused"]) == "True" if found else True
        return details.returncode == 0 and not paused

    def clear(self, run_id: str) -> bool:
        out = self._checked("dags", "clear", DAG_ID, "--run-id", run_id, "--yes")
        return "No matching Dag runs found" not in out

    def trigger(self, conf: dict) -> str:
        out = self._checked("dags", "trigger", DAG_ID, "--conf", json.dumps(conf), "-o", "json")
        # The CLI prints warnings (log lines, "[warning ]") before its one-line JSON list.
        created = next(line for line in out.splitlines() if line.startswith("[{"))
        return json.loads(created)[0]["dag_run_id"]

    def backfill(self, first: date, last: date) -> None:
        # A backfill selects runs by logical date: the whole of each day takes the day's run,
        # whatever hour the schedule runs at.
        self._checked(
            "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", f"{first}T00:00:00+00:00", "--to-date", f"{last}T23:59:59+00:00",
            "--max-active-runs", "3", "--reprocess-behavior", "failed",
        )  # fmt: skip

    def log(self, day: date) -> str:
        return str(self.stack.dir / f"run-{day}.log")

    def run_foreground(self, day: date, conf: dict | None) -> int:
        with open(self.log(day), "w") as log:
            return airflow.run_day(self.stack, DAG_ID, day, conf, stdout=log, stderr=log).returncode


def environment_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--env",
        default=os.environ.get("LAKEHOUSE_ENV"),
        help="deployment environment (env LAKEHOUSE_ENV); 'local' (the default) is the local "
        "stack, any other is AWS with the normal credential chain",
    )
    options.add_argument("--prefix", default="lakehouse", help="naming prefix (lakehouse)")
    options.add_argument(
        "--mwaa",
        metavar="ENVIRONMENT",
        help="rerun/redrive/backfill through this MWAA environment's Airflow REST API "
        "(terraform output mwaa_environment)",
    )
    return options


def known_region(argv: list[str]) -> str | None:
    region = argparse.ArgumentParser(add_help=False)
    region.add_argument("--region")
    return region.parse_known_args(argv)[0].region


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(REPO_ROOT / "plugins"))  # the Airflow-side package, as Airflow has it
    from lakehouse import runs_cli

    argv = list(sys.argv[1:] if argv is None else argv)
    known, _ = environment_options().parse_known_args(argv)
    explicit_table = "--table" in argv or any(a.startswith("--table=") for a in argv)
    explicit_table = explicit_table or bool(os.environ.get("LAKEHOUSE_RUNS_TABLE"))
    # A named table without an environment is a deployed one; the local stack otherwise.
    env = known.env or (None if explicit_table else LOCAL_ENV)
    defaults: dict = {"pipeline": PIPELINE}
    credentials = None
    airflow_side = None
    if env:
        try:
            defaults["table"] = resource_names(known.prefix, env).runs_table
        except ValueError as exc:
            print(f"runs: {exc}", file=sys.stderr)
            return 1
    if env == LOCAL_ENV and "--endpoint-url" not in argv:
        from local.stack import LocalStack

        stack = LocalStack()
        url = stack.endpoint_url()
        if not url and not any(a in ("-h", "--help") for a in argv):
            print(
                f"runs: the local stack in {stack.dir} is not running (make stack-up), "
                "or pass --env ENV for a deployed environment",
                file=sys.stderr,
            )
            return 1
        defaults.update(endpoint_url=url, region=REGION)
        credentials = {
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        }
        airflow_side = LocalAirflow(stack)
    if known.mwaa and env != LOCAL_ENV:
        import boto3
        from lakehouse.mwaa_airflow import MwaaAirflow

        region = known_region(argv)
        airflow_side = MwaaAirflow(known.mwaa, boto3.client("mwaa", region_name=region))
    return runs_cli.main(
        argv,
        parents=[environment_options()],
        defaults=defaults,
        credentials=credentials,
        airflow=airflow_side,
    )


if __name__ == "__main__":
    sys.exit(main())
