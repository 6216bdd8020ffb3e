"""The volume anomaly rule (dbt_project/macros/anomalies.sql) on made-up daily counts: run by
dbt on DuckDB (the local target) and compiled for Athena, where sqlglot checks it as Athena SQL.
The real tests (dbt_project/tests/generic) wrap this rule; the e2e daily run reads their rows
back from elementary_test_results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.athena_contract import checks
from tests.dbt_projects import REQUIRED_VARS, project_copy

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"
CHECKED = date(2026, 11, 15)
# The project's defaults (dbt_project.yml vars): 14 days of history, at least 7, 3 stddev and
# 20% of the mean.
RULE = "14, 7, 3, 0.2"
STEADY = [1000, 1012, 990, 1004, 996, 1008, 993, 1001, 1010, 989, 1003, 997, 1006, 994]


def series(history: list[int], today: int) -> str:
    """The per-day counts: `history` on the days just before CHECKED, then `today`."""
    start = CHECKED - timedelta(days=len(history))
    days = [(start + timedelta(days=i), n) for i, n in enumerate([*history, today])]
    return " union all ".join(f"select date '{d}' as volume_day, {n} as row_count" for d, n in days)


SCENARIOS = {
    "big_drop": series(STEADY, 400),
    "big_spike": series(STEADY, 2500),
    "steady": series(STEADY, 1009),
    # stddev 0: only min_change keeps a one-percent change from being an anomaly
    "flat_small_change": series([1000] * 14, 1010),
    # a drop, but with 6 days of history, one short of the minimum
    "short_history": series(STEADY[-6:], 400),
    # the checked day has no rows at all: a count of 0, not a missing verdict
    "empty_day": series(STEADY, 0).rsplit(" union all ", 1)[0],
}
ANOMALOUS = {"big_drop": 400, "big_spike": 2500, "empty_day": 0}


def inline_sql() -> str:
    sets = "".join(f"{{% set {name} %}}{sql}{{% endset %}}" for name, sql in SCENARIOS.items())
    selects = " union all ".join(
        f"select '{name}' as scenario, volume_day, row_count, history_day_count from "
        f"({{{{ volume_anomalies({name}, ['{CHECKED}'], {RULE}) }}}}) as found_{name}"
        for name in SCENARIOS
    )
    return sets + selects


def dbt(project: Path, command: str, target: str, env: dict) -> dict:
    result = subprocess.run(
        [str(DBT), command, "--target", target, "--project-dir", str(project),
         "--profiles-dir", str(project), "--vars", json.dumps(REQUIRED_VARS),
         "--output", "json", "--quiet", "--inline", inline_sql(),
         *(["--limit", "100"] if command == "show" else ["--no-populate-cache"])],
        capture_output=True, text=True, timeout=300, env=env, cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads(result.stdout[result.stdout.index("{") :])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return project_copy(tmp_path_factory.mktemp("anomaly_rules"))


def test_volume_rule_warns_on_a_big_change_after_enough_steady_history(project, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'lambdas'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DUCKDB_PATH": str(tmp_path / "rules.duckdb"),
        "TMPDIR": str(tmp_path),
        # the plugin's S3 secret needs an endpoint or the credential chain (an extension
        # DuckDB would download); nothing is read from S3 here
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    rows = dbt(project, "show", "local", env)["show"]
    found = {r["scenario"]: r for r in rows}
    assert {name: r["row_count"] for name, r in found.items()} == ANOMALOUS
    assert {r["volume_day"] for r in rows} == {CHECKED.isoformat()}
    assert found["big_drop"]["history_day_count"] == len(STEADY)


def test_volume_rule_is_athena_sql(project):
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    sql = dbt(project, "compile", "athena", env)["compiled"]
    assert "date_add('day', -14, checked.volume_day)" in sql
    assert checks.unparsable([sql]) == []
    assert checks.unknown_functions([sql], checks.athena_functions()) == []
