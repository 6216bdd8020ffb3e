"""Run Airflow's CLI (from the Airflow virtualenv) wired to the local stack.

  python -m local.airflow dags test lakehouse_raw_to_curated 2026-11-20T06:00:00+00:00

Airflow keeps its own environment (MWAA's constraints); this sets the Airflow configuration
options every Airflow gets (mwaa/airflow_configuration.yaml, what Terraform gives MWAA, as
AIRFLOW__SECTION__KEY variables), the variables that point it at the repository's dags/ and
plugins/, a private AIRFLOW_HOME in the state directory, and the connection/Variable that the
local stack provisioned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from lakehouse_ops.naming import PIPELINE
from local.aws import CREDENTIALS_ENV
from local.provision import REPO_ROOT
from local.stack import LocalStack, StackError
from mwaa import airflow_configuration

AIRFLOW_VENV = Path(os.environ.get("AIRFLOW_VENV", REPO_ROOT / ".venvs" / "airflow"))
FOREGROUND_RUN = Path(__file__).with_name("foreground_run.py")
DAG_ID = PIPELINE  # the DAG is named after its pipeline (contracts/naming.json)


def airflow_bin() -> str:
    path = AIRFLOW_VENV / "bin" / "airflow"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `make install` first")
    return str(path)


def environment(stack: LocalStack) -> dict[str, str]:
    env_file = stack.dir / "airflow.env"
    if not env_file.exists():
        raise FileNotFoundError("the local stack is not provisioned: python -m local.stack up")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    for line in env_file.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    home = stack.dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    # MWAA's options (operators.default_deferrable, ...): locally the same DAG, same behaviour.
    env.update(airflow_configuration.environment())
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=60",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "LAKEHOUSE_POKE_SECONDS": os.environ.get("LAKEHOUSE_POKE_SECONDS", "1"),
            # The Airflow side must never reach AWS through the Lambda code's settings.
            **CREDENTIALS_ENV,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return env


def ensure_database(stack: LocalStack, env: dict[str, str]) -> None:
    """Create the metadata database once, in SQLite's write-ahead-log mode.

    MWAA's metadata database is PostgreSQL. Locally it is SQLite, where the default rollback
    journal makes every reader block the scheduler's writes and a CLI write next to a busy
    scheduler fail with "database is locked"; in WAL mode readers never block the writer. The
    mode is stored in the file, so every Airflow process that opens it gets it.
    """
    database = stack.dir / "airflow" / "airflow.db"
    if not database.exists():
        subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True)
    with contextlib.closing(sqlite3.connect(database, timeout=60)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def run(args: list[str], stack: LocalStack | None = None, **kwargs) -> subprocess.CompletedProcess:
    stack = stack or LocalStack()
    env = environment(stack)
    ensure_database(stack, env)
    return subprocess.run([airflow_bin(), *args], env=env, **kwargs)


def run_day(
    stack: LocalStack, dag_id: str, day: date, conf: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """The DAG's run of `day` in the foreground, without a scheduler (local/foreground_run.py:
    `dags test` with the scheduled run's logical date and data interval)."""
    env = environment(stack)
    ensure_database(stack, env)
    # -P: the script's folder (local/, with its own airflow.py) must not shadow Airflow.
    python = str(AIRFLOW_VENV / "bin" / "python")
    args = [python, "-P", str(FOREGROUND_RUN), dag_id, day.isoformat()]
    if conf:
        args += ["--conf", json.dumps(conf)]
    airflow_bin()  # the same "run make install" error when the virtualenv is missing
    return subprocess.run(args, env=env, **kwargs)


def main(argv: list[str] | None = None) -> int:
    stack = LocalStack()
    try:
        airflow_bin()
        if not stack.endpoint_url():  # attach to the running stack, or start it
            stack.up()
    except (FileNotFoundError, StackError) as exc:
        print(f"airflow: {exc}", file=sys.stderr)
        return 2
    return run(list(sys.argv[1:] if argv is None else argv), stack=stack).returncode


if __name__ == "__main__":
    sys.exit(main())
