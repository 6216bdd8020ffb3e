"""terraform fmt, init/validate of the environments, and `terraform test` (mock AWS provider,
command = plan) of every module and environment. Offline: the provider comes from a local
filesystem mirror; without one (or without terraform) these checks skip."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.infra.conftest import ENVIRONMENTS_DIR, MODULES_DIR, TERRAFORM_DIR, terraform_dirs

pytestmark = [pytest.mark.infra, pytest.mark.unit]

EXPECTED_MODULES = {
    "naming",
    "storage",
    "catalog",
    "metadata",
    "workflow",
    "orchestration",
    "analytics",
    "notifications",
    "network",
    "arrivals",
}


def test_fmt(terraform_cli):
    result = subprocess.run(
        [terraform_cli.binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


def test_every_module_is_complete_and_tested():
    modules = {p.name for p in MODULES_DIR.iterdir() if p.is_dir()}
    assert modules == EXPECTED_MODULES
    for name in modules:
        for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (MODULES_DIR / name / required).is_file(), f"modules/{name}/{required} missing"
    tested = {p.name for p in terraform_dirs()}
    assert EXPECTED_MODULES <= tested, (
        f"modules without tests/*.tftest.hcl: {EXPECTED_MODULES - tested}"
    )
    assert (ENVIRONMENTS_DIR / "sandbox") in terraform_dirs()


@pytest.fixture(scope="session")
def terraform_results(terraform_runner):
    """init + test of every tested directory (two at a time), and validate of the environments."""
    dirs = terraform_dirs()
    results: dict[str, dict[str, subprocess.CompletedProcess]] = {}

    def init(directory):
        return terraform_runner.run(
            directory, "init", "-backend=false", "-input=false", "-no-color"
        )

    # The first init fills the plugin cache; the others only link to it.
    results[str(dirs[0])] = {"init": init(dirs[0])}

    def run_one(directory):
        outcome = results.setdefault(str(directory), {})
        if "init" not in outcome:
            outcome["init"] = init(directory)
        if outcome["init"].returncode != 0:
            return
        if directory.parent == ENVIRONMENTS_DIR:
            outcome["validate"] = terraform_runner.run(directory, "validate", "-no-color")
        outcome["test"] = terraform_runner.run(directory, "test", "-no-color")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run_one, dirs))
    return results


def _report(result: subprocess.CompletedProcess) -> str:
    return f"{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(
    "directory", terraform_dirs(), ids=lambda p: str(p.relative_to(TERRAFORM_DIR))
)
def test_terraform_init_and_test(terraform_results, directory):
    outcome = terraform_results[str(directory)]
    assert outcome["init"].returncode == 0, _report(outcome["init"])
    if "validate" in outcome:
        assert outcome["validate"].returncode == 0, _report(outcome["validate"])
    result = outcome["test"]
    assert result.returncode == 0, _report(result)
    assert "0 failed" in result.stdout and " passed" in result.stdout, _report(result)
