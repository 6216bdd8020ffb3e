"""Test layers (pytest markers): unit, integration (local emulator), e2e (the real DAG), and
airflow (needs .venvs/airflow). `make test` runs all of them, each in its own virtualenv."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The code of each runtime is importable the way its runtime imports it: Airflow puts plugins/
# on sys.path, Lambda puts the function's code directory (lambdas/) there.
for path in (REPO_ROOT, REPO_ROOT / "plugins", REPO_ROOT / "lambdas"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    """A private local stack for each test module, in a temporary state directory: a module's
    assertions about the lakehouse (tables, runs, reports) see only the days it wrote, whichever
    modules ran before it or next to it."""
    from tests.stacks import started_stack

    with started_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
