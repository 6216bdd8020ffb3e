"""The Lambda image's environment, not the development one: both functions' Athena path runs in
a virtualenv built from lambdas/requirements.lock alone (.venvs/image, what the Dockerfile
installs), so an import or a package the image lacks fails here instead of on AWS. The local
engine (DuckDB, dbt-duckdb) is not in the image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests import image_env

pytestmark = pytest.mark.integration
REPO = image_env.REPO


@pytest.fixture(scope="module")
def image_python() -> Path:
    return image_env.image_python()


def in_image(python: Path, code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Runs `code` as the function would: the image's packages, the function's code directory on
    the path, the function's environment (nothing of this repository's other runtimes)."""
    return subprocess.run(
        [str(python), "-I", "-c", f"import sys; sys.path.insert(0, {str(REPO / 'lambdas')!r})\n"
         + code],
        env=image_env.clean_environment(**env),
        capture_output=True, text=True, timeout=600, cwd="/",
    )  # fmt: skip


def test_the_image_carries_the_functions_and_not_the_local_engine(image_python):
    result = in_image(
        image_python,
        "import dbt_runtime.handlers.dbt_executor, dbt_runtime.handlers.test_executor\n"
        "import dbt_runtime.handlers.ingest\n"
        "import dbt.adapters.athena, pyiceberg.catalog.glue\n"
        "import importlib.util as u\n"
        "print(sorted(m for m in ('duckdb', 'dbt.adapters.duckdb', 'moto') if u.find_spec(m)))",
        {"DBT_TARGET": "athena"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_the_dbt_executor_runs_the_athena_target_with_the_images_packages(
    image_python, local_stack
):
    """A cleanup invocation of the real handler on the athena target: dbt starts with
    dbt-athena, renders the project, and looks each run-scoped relation up in the Glue catalog
    (the emulator's), all with the image's packages alone."""
    from local.aws import CREDENTIALS_ENV
    from local.provision import lambda_environment

    _, provisioned, _ = local_stack
    env = lambda_environment(provisioned.names, "athena", str(REPO / "dbt_project"))
    env |= {
        "AWS_ENDPOINT_URL": provisioned.endpoint_url,
        **CREDENTIALS_ENV,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    event = {
        "stage": "cleanup",
        "select": "cleanup",
        "run_id": "image-check",
        "run_key": "rimagecheck",
        "interval": {"start": "2026-06-10", "end": "2026-06-11"},
    }
    context = (
        "from types import SimpleNamespace as N\n"
        "context = N(function_name='dbt-executor', memory_limit_in_mb=3008, "
        "invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:x', "
        "aws_request_id='image-check', get_remaining_time_in_millis=lambda: 900000)\n"
    )
    result = in_image(
        image_python,
        context + "import json\nfrom dbt_runtime.handlers import dbt_executor\n"
        f"print(json.dumps(dbt_executor.handler({event!r}, context)))",
        env,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert (record["stage"], record["status"]) == ("cleanup", "SUCCEEDED")
    # dbt's own log line from the macro: the project ran on dbt-athena, not just imported
    assert "dropped run-scoped relations: none" in result.stdout + result.stderr
