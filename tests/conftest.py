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


def pytest_collection_modifyitems(config, items):
    """The costliest modules first (stable sort: modules stay whole and in order otherwise).

    `make test` runs modules on two pytest-xdist workers, each module on one worker; a worker
    takes the next module from this order when it is free. Started last, the longest module
    would run alone at the end while the other worker idles.
    """

    def cost(item) -> int:
        marker = item.get_closest_marker("cost")
        return marker.args[0] if marker else 0

    items.sort(key=cost, reverse=True)


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    """A private local stack for each test module, in a temporary state directory: a module's
    assertions about the lakehouse (tables, runs, reports) see only the days it wrote, whichever
    modules ran before it or next to it."""
    from tests.stacks import started_stack

    with started_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
