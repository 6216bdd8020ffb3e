"""One file of Airflow configuration options (mwaa/airflow_configuration.yaml) for every Airflow:
Terraform gives it to MWAA (checked by terraform/modules/orchestration's `terraform test`), and
each local runtime must get every option meant for every Airflow, which Airflow then reads:
`airflow dags test` (local/airflow.py), `make airflow` (local/airflow_server.py, standalone) and
docker-compose (its entrypoint, run here with the image's paths mapped to the repository)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mwaa import airflow_configuration

pytestmark = [pytest.mark.infra, pytest.mark.unit]
REPO = Path(__file__).resolve().parents[2]
AIRFLOW = REPO / ".venvs" / "airflow" / "bin" / "airflow"
EVERY = airflow_configuration.options()
MWAA_ONLY = airflow_configuration.load()["mwaa_only"]


@pytest.fixture
def stack(tmp_path):
    from local.stack import LocalStack

    (tmp_path / "airflow.env").write_text("export AIRFLOW_VAR_LAKEHOUSE_CONFIG='{}'\n")
    return LocalStack(tmp_path)


def assert_gets_every_option(env: dict[str, str]) -> None:
    assert EVERY, "the file gives every Airflow nothing"
    for option, value in EVERY.items():
        name = airflow_configuration.env_name(option)
        assert env.get(name) == value, f"{option} = {value!r} missing ({name}={env.get(name)!r})"
    for option in MWAA_ONLY:  # the local stack serves Variables from env, not Secrets Manager
        assert airflow_configuration.env_name(option) not in env, option


def test_the_file_holds_what_the_dag_relies_on():
    assert EVERY["operators.default_deferrable"] == "True"
    assert int(EVERY["lakehouse.max_active_runs"]) > 1
    assert MWAA_ONLY["secrets.backend"].endswith("SecretsManagerBackend")
    assert airflow_configuration.env_name("operators.default_deferrable") == (
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"
    )


def test_a_broken_file_is_refused(tmp_path):
    bad = tmp_path / "options.yaml"
    bad.write_text("every_airflow: {core.parallelism: 4}\nmwaa_only: {}\n")
    with pytest.raises(ValueError, match="must be a string"):
        airflow_configuration.load(bad)
    bad.write_text("every_airflow: {'x.y': '1'}\nmwaa_only: {'x.y': '2'}\n")
    with pytest.raises(ValueError, match="in both groups"):
        airflow_configuration.load(bad)


def test_airflow_dags_test_gets_every_option(stack):
    from local import airflow

    assert_gets_every_option(airflow.environment(stack))


def test_make_airflow_gets_every_option(stack):
    from local import airflow_server

    assert_gets_every_option(airflow_server.server_environment(stack, 8080))


@pytest.mark.skipif(not AIRFLOW.exists(), reason="the Airflow venv is made by `make install`")
def test_airflow_itself_reads_the_options_it_is_given(stack):
    from local import airflow

    env = airflow.environment(stack)
    for option, value in EVERY.items():
        section, key = option.split(".", 1)
        result = subprocess.run(
            [str(AIRFLOW), "config", "get-value", section, key],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == value, option


def test_docker_compose_gets_every_option(tmp_path):
    """Run compose's Airflow entrypoint with the volumes' container paths mapped to the
    repository, the local stack's env file empty, and `env` instead of Airflow's entrypoint."""
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    airflow = compose["x-airflow"]
    shell, flag, script, *_ = airflow["entrypoint"]
    assert (shell, flag) == ("/bin/bash", "-c")
    script = script.replace("$$", "$")  # Compose's escape for a literal $
    (tmp_path / "airflow.env").write_text("")
    script = script.replace("/state/airflow.env", str(tmp_path / "airflow.env"))
    for volume in airflow["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            script = script.replace(target, str(REPO / source[2:]))
    assert "exec /entrypoint" in script
    script = script.replace("exec /entrypoint", "exec env")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"  # stands for the image's python (PyYAML comes with Airflow)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", **airflow["environment"]}
    result = subprocess.run(
        ["/bin/bash", "-c", script, "--"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert_gets_every_option(seen)
    assert seen["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
