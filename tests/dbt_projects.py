"""Changed copies of the dbt project, deployed to a Lambda of the local stack for a while: how
a test makes a model or a test fail without bad raw data (which is quarantined, not fatal).
The Lambda reads its project from DBT_PROJECT_DIR, as the image built from this repo does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dbt_runtime import dbt_invocation

REPO_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
# Every var dbt has no value of its own for, as the dbt runtime passes them to a run given no
# run options: the landing schema and the run options at the run request's defaults.
REQUIRED_VARS = dbt_invocation.project_vars()


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "dbt_project"
    shutil.copytree(REPO_PROJECT, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def with_final_select_prefixed(project: Path, model: str, columns: str) -> Path:
    """The model's last `select` starting with `columns` (e.g. a column that does not exist,
    or a cast that fails on the data): a failure dbt only finds when it runs the model."""
    path = next((project / "models").rglob(f"{model}.sql"))
    text = path.read_text()
    position = text.rindex("select")
    path.write_text(text[:position] + f"select {columns}, " + text[position + len("select") :])
    return project


@contextmanager
def deployed(lakehouse, function: str, directory: Path) -> Iterator[None]:
    """Run `function` with DBT_PROJECT_DIR = `directory`, then restore its configuration."""
    lam = lakehouse.client("lambda")
    variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    changed = {**variables, "DBT_PROJECT_DIR": str(directory)}
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": changed})
    try:
        yield
    finally:
        lam.update_function_configuration(
            FunctionName=function, Environment={"Variables": variables}
        )
