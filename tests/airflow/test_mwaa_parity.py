"""What MWAA will load, checked here: requirements under MWAA's constraints, plugins.zip on
the path instead of the repository, the startup script, and Airflow lint rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mwaa.package import build_plugins_zip

pytestmark = [pytest.mark.airflow, pytest.mark.unit]
REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO.parent / "shared" / "constraints" / "mwaa-3.3.1.txt"
UV = REPO / ".venvs" / "tools" / "bin" / "uv"
RESERVED = re.compile(
    r"^\s*export\s+(AIRFLOW__\w+|AIRFLOW_HOME|PATH|PYTHONPATH|JAVA_HOME|AIRFLOW_VERSION|"
    r"MWAA_\w+|LD_LIBRARY_PATH|LD_PRELOAD|PYTHONUNBUFFERED|AIRFLOW_CONN_\w+|AIRFLOW_VAR_\w+)=",
    re.M,
)


def requirement_lines() -> list[str]:
    return [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def pinned_constraints() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_requirements_use_mwaa_constraints_and_leave_dbt_out():
    lines = requirement_lines()
    assert lines[0].startswith("--constraint")
    assert "constraints-3.3.1/constraints-3.12.txt" in lines[0]
    packages = [re.split(r"[=<>~!\[ ]", line, maxsplit=1)[0].lower() for line in lines[1:]]
    assert packages, "requirements.txt lists nothing"
    assert not [p for p in packages if p.startswith("dbt")], "dbt belongs in the Lambda image"


@pytest.mark.skipif(not CONSTRAINTS.exists(), reason=f"MWAA constraints not found at {CONSTRAINTS}")
def test_pins_agree_with_what_mwaa_provides():
    pins = pinned_constraints()
    for line in requirement_lines()[1:]:
        name, _, version = line.partition("==")
        key = name.strip().lower().replace("_", "-")
        if key in pins:
            assert version.strip() == pins[key], f"{key}: MWAA provides {pins[key]}"


@pytest.mark.skipif(not CONSTRAINTS.exists(), reason=f"MWAA constraints not found at {CONSTRAINTS}")
@pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make install` (.venvs/tools)")
def test_requirements_resolve_under_mwaa_constraints(tmp_path):
    # The --constraint URL is what MWAA fetches; here the same file comes from ../shared.
    plain = tmp_path / "requirements.in"
    plain.write_text("\n".join(requirement_lines()[1:]) + "\n")
    result = subprocess.run(
        [str(UV), "pip", "compile", "--quiet", "--python-version", "3.12", str(plain),
         "-c", str(CONSTRAINTS), "--no-header"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "apache-airflow-providers-amazon==9.34.0" in result.stdout


def test_plugins_zip_alone_makes_every_plugin_and_dag_import(tmp_path):
    archive = tmp_path / "plugins.zip"
    names = build_plugins_zip(REPO / "plugins", archive)
    assert "lakehouse/sensors.py" in names and not [n for n in names if "__pycache__" in n]
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(archive) as z:
        z.extractall(plugins)  # what MWAA does with plugins.zip
    home = tmp_path / "home"
    script = f"""
import importlib, pkgutil, sys
from airflow import plugins_manager
from airflow.dag_processing.dagbag import DagBag
plugins_manager.ensure_plugins_loaded()
import lakehouse
assert lakehouse.__file__.startswith({str(plugins)!r}), lakehouse.__file__
for module in pkgutil.iter_modules(lakehouse.__path__):
    importlib.import_module("lakehouse." + module.name)
bag = DagBag(dag_folder={str(REPO / "dags")!r})
assert not bag.import_errors, bag.import_errors
assert "lakehouse_raw_to_curated" in bag.dags
print("ok", sorted(bag.dags))
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok ['lakehouse_raw_to_curated']" in result.stdout


def test_startup_script_is_valid_shell_and_sets_no_reserved_variable():
    script = REPO / "mwaa" / "startup.sh"
    for shell in ("sh", "bash"):
        subprocess.run([shell, "-n", str(script)], check=True)
    assert not RESERVED.findall(script.read_text())
    out = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=True)
    assert "lakehouse startup" in out.stdout


@pytest.mark.skipif(
    shutil.which("shellcheck") is None,
    reason="shellcheck is not installed (Debian package `shellcheck`; .ci/run installs it)",
)
def test_startup_script_passes_shellcheck():
    subprocess.run(["shellcheck", "-s", "sh", str(REPO / "mwaa" / "startup.sh")], check=True)


def test_airflow_lint_rules_are_clean():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--select", "AIR", "dags", "plugins"], cwd=REPO,
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
