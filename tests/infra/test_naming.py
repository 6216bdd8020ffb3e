"""One naming rule, two readers: terraform/modules/naming and lakehouse_ops/naming.py both expand
contracts/naming.json; `terraform console` evaluates the module and the names must equal
Python's."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from lakehouse_ops.naming import RULE_FILE, resource_names
from tests.infra.conftest import MODULES_DIR

pytestmark = [pytest.mark.infra, pytest.mark.unit]

CASES = [
    ("lakehouse", "local", ""),
    ("lakehouse", "dev", ""),
    ("lakehouse", "prod", "123456789012"),
    ("data-lake", "sandbox2", ""),
]
NAMING = MODULES_DIR / "naming"


def _console(terraform_cli, tmp_path, expression: str, **variables) -> subprocess.CompletedProcess:
    # The module reads ../../../contracts/naming.json: keep that layout in the copy. It has no
    # provider, so `terraform console` evaluates it without init.
    work = tmp_path / "terraform" / "modules" / "naming"
    shutil.copytree(NAMING, work, ignore=shutil.ignore_patterns("tests", ".terraform*"))
    (tmp_path / "contracts").mkdir()
    shutil.copy(RULE_FILE, tmp_path / "contracts" / RULE_FILE.name)
    args = [arg for key, value in variables.items() for arg in ("-var", f"{key}={value}")]
    return subprocess.run(
        [terraform_cli.binary, "console", *args],
        input=f"{expression}\n",
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": "/dev/null",
            "HOME": str(tmp_path),
        },
    )


@pytest.mark.parametrize(("prefix", "environment", "suffix"), CASES)
def test_terraform_names_equal_python_names(prefix, environment, suffix, tmp_path, terraform_cli):
    result = _console(
        terraform_cli,
        tmp_path,
        "jsonencode(local.names)",
        prefix=prefix,
        environment=environment,
        bucket_suffix=suffix,
    )
    assert result.returncode == 0, result.stderr
    terraform_names = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))
    assert terraform_names == resource_names(prefix, environment, suffix).as_dict()


def test_terraform_expands_every_placeholder_of_the_aws_only_names(tmp_path, terraform_cli):
    result = _console(
        terraform_cli,
        tmp_path,
        "jsonencode(local.aws_names)",
        environment="dev",
        bucket_suffix="x1",
    )
    assert result.returncode == 0, result.stderr
    aws_names = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))
    assert set(aws_names) == set(json.loads(RULE_FILE.read_text())["aws_only_names"])
    assert not [name for name in aws_names.values() if "{" in name or "}" in name]
    assert aws_names["mwaa_bucket"] == "lakehouse-dev-mwaa-x1"


@pytest.mark.parametrize(
    ("variable", "value"), [("environment", "Prod-1"), ("prefix", "9lake"), ("bucket_suffix", "UP")]
)
def test_terraform_and_python_reject_the_same_inputs(variable, value, tmp_path, terraform_cli):
    inputs = {"prefix": "lakehouse", "environment": "dev", "bucket_suffix": "", variable: value}
    result = _console(terraform_cli, tmp_path, "local.names", **inputs)
    assert result.returncode != 0 and "Invalid value for variable" in result.stderr
    with pytest.raises(ValueError, match=variable):
        resource_names(inputs["prefix"], inputs["environment"], inputs["bucket_suffix"])
