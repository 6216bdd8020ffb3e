"""The deploy path (make deploy ENV=...): what can be checked without AWS."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.infra, pytest.mark.unit]
REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "scripts" / "deploy.sh"


def test_deploy_script_is_valid_bash_and_refuses_unknown_environments(tmp_path):
    subprocess.run(["bash", "-n", str(DEPLOY)], check=True)
    result = subprocess.run(
        ["bash", str(DEPLOY), "no-such-env"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "no Terraform environment" in result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_deploy_script_passes_shellcheck():
    subprocess.run(["shellcheck", str(DEPLOY)], check=True)


def test_lambda_image_carries_both_handlers_code_and_the_dbt_project():
    dockerfile = (REPO / "lambdas" / "Dockerfile").read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12" in dockerfile
    assert "lambdas/requirements.lock" in dockerfile  # the locked Lambda side, nothing else
    assert "COPY dbt_project ${LAMBDA_TASK_ROOT}/dbt_project" in dockerfile
    # dbt_runtime/run_request.py reads the run options' schema beside dbt_runtime/
    assert "COPY contracts ${LAMBDA_TASK_ROOT}/contracts" in dockerfile
    workflow = (REPO / "terraform" / "modules" / "workflow" / "main.tf").read_text()
    # the functions pick their handler (contracts/functions.json) from the one image, and read
    # the project from the image
    assert "image_config.command" in workflow or "command = [each.value.handler]" in workflow
    for function in json.loads((REPO / "contracts" / "functions.json").read_text())[
        "functions"
    ].values():
        module, _, attribute = function["handler"].rpartition(".")
        assert (REPO / "lambdas" / (module.replace(".", "/") + ".py")).is_file(), module
        assert (
            f"def {attribute}("
            in (REPO / "lambdas" / (module.replace(".", "/") + ".py")).read_text()
        )
    assert "/var/task/dbt_project" in workflow
