"""Elementary's tables after real runs, and the HTML report built from them, in headless Chromium.

Two days through the real DAG, state machine and Lambdas: one whose tests fail and warn (a copy
of the dbt project with two more singular tests, one of severity warn), one whose mart model
fails (a copy with a broken fct_events). Copies of the project, not bad raw data: the failures
do not depend on how bad input is handled, and the lakehouse is left as clean as it was for
the tests that share the stack. Every figure checked comes from the Iceberg tables, read back
independently of the report's code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lakehouse_ops import report
from local import sample_data
from local.demo import run_dag_for_day
from tests.dbt_projects import deployed, project_copy, with_final_select_prefixed

REPO = Path(__file__).resolve().parents[2]

# cost: two runs, plus headless Chromium
pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]
TESTS_FAIL_DAY = date(2026, 11, 12)
MODEL_FAILS_DAY = date(2026, 11, 13)
EXPECTED_TESTS = 44  # tests/e2e/test_daily_run.py: the tests the tests stage runs
# Tests the marts stage builds with the marts (dbt_project/tests, tag gate): in the project and
# in every run's dbt_run_results, not in the tests stage's.
GATE_TESTS = ["bad_row_share"]
PROJECT_MODELS = [
    "daily_metrics",
    "dim_users",
    "fct_events",
    "fct_events_moves",
    "quarantined_events",
    "stg_raw_event_lines",
    "stg_raw_events",
    "stg_raw_user_lines",
    "stg_raw_users",
]


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        pytest.fail("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return binary


EXTRA_TESTS = {
    # Severity warn: a sample day is far smaller than this.
    "expect_a_million_events": """{{ config(severity='warn') }}
select count(*) as events from {{ ref('fct_events') }} having count(*) < 1000000
""",
    # Fails: most users of a sample day never purchase.
    "every_user_has_purchased": """select u.user_id
from {{ ref('dim_users') }} as u
left join {{ ref('fct_events') }} as e
    on e.user_id = u.user_id and e.event_type = 'purchase'
where e.event_id is null
""",
}


def project_with_extra_tests(tmp_path: Path) -> Path:
    copy = project_copy(tmp_path)
    for name, sql in EXTRA_TESTS.items():
        (copy / "tests" / f"{name}.sql").write_text(sql)
    return copy


def broken_project(tmp_path: Path) -> Path:
    """The dbt project with fct_events selecting a column that does not exist."""
    return with_final_select_prefixed(
        project_copy(tmp_path), "fct_events", "no_such_column_in_staging as boom"
    )


@pytest.fixture(scope="module")
def two_days(local_stack, tmp_path_factory):
    stack, provisioned, lakehouse = local_stack
    s3 = lakehouse.client("s3")
    names = provisioned.names
    sample_data.write_day(s3, names.raw_bucket, TESTS_FAIL_DAY, events=300, seed=21)
    extra = project_with_extra_tests(tmp_path_factory.mktemp("extra-tests"))
    with deployed(lakehouse, names.test_executor_function, extra):
        first = run_dag_for_day(stack, TESTS_FAIL_DAY, log_name="e2e-report-tests-fail.log")

    sample_data.write_day(s3, names.raw_bucket, MODEL_FAILS_DAY, events=300, seed=22)
    broken = broken_project(tmp_path_factory.mktemp("broken"))
    with deployed(lakehouse, names.dbt_executor_function, broken):
        second = run_dag_for_day(stack, MODEL_FAILS_DAY, log_name="e2e-report-model-fails.log")
    runs = {
        day: next(r for r in lakehouse.runs() if r["interval_start"] == day.isoformat())
        for day in (TESTS_FAIL_DAY, MODEL_FAILS_DAY)
    }
    return (first, second), runs, lakehouse


def rows_of(lakehouse, table: str) -> list[dict]:
    database = lakehouse.resources["names"]["elementary_database"]
    return lakehouse.table(table, database).to_pylist()


def invocations_of(lakehouse, run: dict) -> list[dict]:
    return [
        i
        for i in rows_of(lakehouse, "dbt_invocations")
        if i["execution_id"] == run["execution_arn"]
    ]


def test_both_runs_fail_where_expected(two_days):
    (first, second), runs, _ = two_days
    assert first != 0 and second != 0
    assert runs[TESTS_FAIL_DAY]["failed_stage"] == "tests"
    assert runs[TESTS_FAIL_DAY]["error"] == "DataTestsFailed"
    assert runs[MODEL_FAILS_DAY]["failed_stage"] == "dbt_marts"
    assert "no_such_column_in_staging" in runs[MODEL_FAILS_DAY]["cause"]


def test_every_invocation_of_a_run_is_in_dbt_invocations(two_days):
    _, runs, lakehouse = two_days
    stages = {
        day: Counter(i["stage"] for i in invocations_of(lakehouse, run))
        for day, run in runs.items()
    }
    assert stages[TESTS_FAIL_DAY] == {"dbt_staging": 1, "dbt_marts": 1, "tests": 1}
    assert stages[MODEL_FAILS_DAY] == {"dbt_staging": 1, "dbt_marts": 1}
    for day, run in runs.items():
        for invocation in invocations_of(lakehouse, run):
            assert invocation["job_run_id"] == run["run_id"]
            assert invocation["interval_start"] == day.isoformat()
            assert invocation["command"] in ("build", "test")
            assert invocation["dbt_version"].startswith("1.")
            assert invocation["run_started_at"] <= invocation["run_completed_at"]


def test_a_failed_model_is_an_error_and_what_it_feeds_is_skipped(two_days):
    _, runs, lakehouse = two_days
    ids = {i["invocation_id"]: i["stage"] for i in invocations_of(lakehouse, runs[MODEL_FAILS_DAY])}
    results = [r for r in rows_of(lakehouse, "dbt_run_results") if r["invocation_id"] in ids]
    models = {r["name"]: r for r in results if r["resource_type"] == "model"}
    assert models["fct_events"]["status"] == "error"
    assert "no_such_column_in_staging" in models["fct_events"]["message"]
    assert ids[models["fct_events"]["invocation_id"]] == "dbt_marts"
    assert models["daily_metrics"]["status"] == "skipped"
    assert models["dim_users"]["status"] == "success" and models["dim_users"]["rows_affected"] > 0
    assert models["stg_raw_events"]["status"] == "success"
    assert models["stg_raw_events"]["rows_affected"] == 300
    tests = [r for r in results if r["resource_type"] == "test"]
    gates = {t["name"]: t["status"] for t in tests if t["name"] in GATE_TESTS}
    assert gates == dict.fromkeys(GATE_TESTS, "pass")  # ran before the marts, and passed
    tests = [t for t in tests if t["name"] not in GATE_TESTS]
    assert len(tests) == EXPECTED_TESTS and {t["status"] for t in tests} == {"skipped"}
    fct_tests = [t for t in tests if "fct_events" in t["name"]]
    assert fct_tests and all(t["message"].startswith("skipped: depends on") for t in fct_tests)
    others = [t for t in tests if t["message"].startswith("not run:")]
    assert others and all("dbt_marts" in t["message"] for t in others)
    # No test of the tests stage ran: the run's only Elementary test results are its gates.
    assert sorted(
        r["test_short_name"]
        for r in rows_of(lakehouse, "elementary_test_results")
        if r["invocation_id"] in ids
    ) == sorted(GATE_TESTS)


def test_failing_and_warning_tests_are_recorded_with_their_failures(two_days):
    _, runs, lakehouse = two_days
    run = runs[TESTS_FAIL_DAY]
    results = lakehouse.test_results(run["stages"]["tests"]["invocation_id"]).to_pylist()
    assert len(results) == EXPECTED_TESTS + len(EXTRA_TESTS)
    statuses = {r["test_short_name"]: r["status"] for r in results}
    assert statuses.pop("every_user_has_purchased") == "fail"
    assert statuses.pop("expect_a_million_events") == "warn"
    assert set(statuses.values()) == {"pass"}
    assert all(r["failures"] > 0 for r in results if r["status"] in ("fail", "warn"))
    ids = {i["invocation_id"] for i in invocations_of(lakehouse, run)}
    run_results = [r for r in rows_of(lakehouse, "dbt_run_results") if r["invocation_id"] in ids]
    assert Counter(r["resource_type"] for r in run_results) == {
        "model": len(PROJECT_MODELS),
        "test": EXPECTED_TESTS + len(EXTRA_TESTS) + len(GATE_TESTS),
    }
    assert {r["status"] for r in run_results if r["resource_type"] == "model"} == {"success"}


def test_models_and_tests_tables_hold_the_project(two_days):
    _, _, lakehouse = two_days
    models = rows_of(lakehouse, "dbt_models")
    assert sorted(m["name"] for m in models) == PROJECT_MODELS
    assert {m["materialization"] for m in models} >= {"view"}
    tests = rows_of(lakehouse, "dbt_tests")
    assert len(tests) == len({t["unique_id"] for t in tests}) == EXPECTED_TESTS + len(GATE_TESTS)
    parents = {t["parent_model_unique_id"] for t in tests}
    assert parents <= {m["unique_id"] for m in models} | {None}


def test_recording_a_run_again_adds_no_rows(two_days):
    _, runs, lakehouse = two_days
    run = runs[MODEL_FAILS_DAY]
    tables = ("dbt_run_results", "dbt_invocations", "elementary_test_results", "dbt_models")
    before = {t: len(rows_of(lakehouse, t)) for t in tables}
    payload = {
        "stage": "record_artifacts",
        "mode": "record_only",
        "failed_stage": "dbt_marts",
        "run_id": run["run_id"],
        "pipeline": run["pipeline"],
        "interval": {"start": run["interval_start"], "end": run["interval_end"]},
        "execution_id": run["execution_arn"],
    }
    function = lakehouse.resources["names"]["test_executor_function"]
    response = lakehouse.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(payload).encode()
    )
    assert "FunctionError" not in response, response["Payload"].read()[:2000]
    assert {t: len(rows_of(lakehouse, t)) for t in tables} == before
    ids = [r["model_execution_id"] for r in rows_of(lakehouse, "dbt_run_results")]
    assert len(ids) == len(set(ids))
    ids = [r["test_execution_id"] for r in rows_of(lakehouse, "elementary_test_results")]
    assert len(ids) == len(set(ids))


# -- the HTML report ---------------------------------------------------------------------------


class Bars(HTMLParser):
    """The chart marks the page's script drew, and the figures of its tables."""

    def __init__(self):
        super().__init__()
        self.bars: list[dict] = []
        self.cells: dict[str, str] = {}
        self.svgs = 0
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "rect" and "data-series" in attrs:
            self.bars.append(attrs)
        if "data-figure" in attrs:
            self._cell = attrs["data-figure"]
            self.cells[self._cell] = ""

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] += data

    def handle_endtag(self, tag):
        self._cell = None


def latest_statuses_per_day(lakehouse) -> dict[str, Counter]:
    """Per run day: the latest status of each test (a test that never ran: skipped)."""
    day_of = {i["invocation_id"]: i for i in rows_of(lakehouse, "dbt_invocations")}
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for row in rows_of(lakehouse, "dbt_run_results"):
        invocation = day_of.get(row["invocation_id"])
        if row["resource_type"] != "test" or invocation is None:
            continue
        key = (invocation["interval_start"], row["unique_id"])
        stamp = (invocation["run_started_at"], row["status"])
        latest[key] = max(latest.get(key, stamp), stamp)
    counts: dict[str, Counter] = {}
    for (day, _), (_, status) in latest.items():
        counts.setdefault(day, Counter())[status] += 1
    return counts


def test_report_renders_charts_whose_figures_match_the_tables(two_days, tmp_path):
    _, runs, lakehouse = two_days
    page = report.write(lakehouse.environment, tmp_path / "report")
    assert page.name == "index.html"
    html = page.read_text()
    # Self-contained: nothing to fetch (the SVG namespace URI is a name, not a request).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html

    dom = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert 'data-rendered="true"' in dom, "the page's script did not run"
    static = Bars()
    static.feed(html)
    assert not static.bars, "bars must be drawn by the page, in the browser"
    page_dom = Bars()
    page_dom.feed(dom)
    assert page_dom.svgs >= 2

    expected = latest_statuses_per_day(lakehouse)
    drawn: dict[str, Counter] = {}
    for bar in page_dom.bars:
        if bar["data-chart"] == "tests":
            drawn.setdefault(bar["data-x"], Counter())[bar["data-series"]] += int(bar["data-value"])
            assert float(bar["height"]) > 0
    for day in (TESTS_FAIL_DAY.isoformat(), MODEL_FAILS_DAY.isoformat()):
        assert +drawn[day] == +expected[day], day
        for status in ("pass", "warn", "fail", "error", "skipped"):
            assert int(page_dom.cells[f"tests.{day}.{status}"]) == expected[day][status]
    assert drawn[TESTS_FAIL_DAY.isoformat()]["fail"] == 1
    assert drawn[TESTS_FAIL_DAY.isoformat()]["warn"] == 1
    assert drawn[MODEL_FAILS_DAY.isoformat()]["skipped"] == EXPECTED_TESTS

    # Rows per day per model: the latest successful result of each model for the day.
    staged = [
        b
        for b in page_dom.bars
        if b["data-chart"] == "rows" and b["data-series"] == "stg_raw_events"
    ]
    by_day = {b["data-x"]: int(b["data-value"]) for b in staged}
    assert by_day[TESTS_FAIL_DAY.isoformat()] == 300
    assert by_day[MODEL_FAILS_DAY.isoformat()] == 300
    assert int(page_dom.cells[f"rows.{MODEL_FAILS_DAY}.stg_raw_events"]) == 300

    # The failures list names the failing tests and the failed model with dbt's message; a
    # warning is listed with the anomalies and warnings, not as a failure.
    for name in (*EXTRA_TESTS, "no_such_column_in_staging"):
        assert name in dom
    failures = dom.split("<h2>Failures</h2>")[1].split("<h2>")[0]
    assert "every_user_has_purchased" in failures and "expect_a_million_events" not in failures
    assert 'data-warning="expect_a_million_events"' in dom
    # The latest run summary is the model failure's run.
    assert page_dom.cells["latest.run_id"] == runs[MODEL_FAILS_DAY]["run_id"]
    assert page_dom.cells["latest.interval"].startswith(MODEL_FAILS_DAY.isoformat())

    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 20, "the screenshot is blank"
    drawn_colours = {
        tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in report.COLOURS.values()
    }
    assert drawn_colours & {rgb for _, rgb in colours}, "no bar colour on the screenshot"


def test_make_report_writes_the_page_for_the_stack(two_days, tmp_path):
    _, _, lakehouse = two_days
    out = tmp_path / "cli"
    result = subprocess.run(
        [str(REPO / "scripts" / "lakehouse"), "report", "--out", str(out)],
        env={**os.environ, "LAKEHOUSE_STATE_DIR": str(lakehouse.stack.dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"data-quality report: {out / 'index.html'}" in result.stdout
    assert re.search(r"<svg[^>]*id=\"chart-tests\"", (out / "index.html").read_text())
