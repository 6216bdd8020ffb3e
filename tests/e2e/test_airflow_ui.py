"""The local Airflow UI path: all Airflow components on a free localhost port, with logins
required (as on MWAA), a run triggered through the REST API with params, followed to success,
the Lakehouse view's pages of the ledger and the run's data-quality report (refused without a
login), the live pages loaded in headless Chromium with the login's cookie (tests/chromium.py),
and every process stopped afterwards.

LAKEHOUSE_VIEW_SCREENSHOT=docs/lakehouse-view-run.png also saves the browser's screenshot of
the good run's page there (the README's)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date
from urllib.parse import quote

import markupsafe
import pytest
from lakehouse import summary

from local import sample_data
from local.airflow_server import running
from tests.chromium import Chromium
from tests.stacks import started_stack

# cost: two runs, plus starting Airflow standalone
pytestmark = [pytest.mark.e2e, pytest.mark.cost(4)]
DAG_ID = "lakehouse_raw_to_curated"
MANUAL_DAY = date(2026, 11, 5)
BROKEN_DAY = date(2026, 11, 6)  # an error page delivered as data: over the bad-row threshold
GARBAGE = 60


PASSWORD = secrets.token_urlsafe(12)


def login(base: str, user: str = "admin", password: str = PASSWORD) -> str:
    """A JWT from the auth manager (SimpleAuthManager's POST /auth/token)."""
    request = urllib.request.Request(
        f"{base}/auth/token",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def get(base: str, path: str, token: str | None) -> urllib.request.Request:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.Request(f"{base}{path}", headers=headers)


def call(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v2{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def page(base: str, path: str, token: str | None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(get(base, path, token), timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_final_state(base: str, token: str, run_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = call(base, token, "GET", f"/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}")
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(3)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of its own: the scheduled run's day depends on today's date and must not
    collide with the days other tests build."""
    with started_stack(tmp_path_factory.mktemp("ui-stack")) as stack:
        yield stack


def test_trigger_through_the_rest_api_with_params(own_stack):
    stack, provisioned, lakehouse = own_stack
    s3 = lakehouse.client("s3")
    sample_data.write_day(s3, provisioned.names.raw_bucket, MANUAL_DAY, events=500, seed=5)

    with running(stack, passwords={"admin": PASSWORD}) as base:
        token = login(base)
        dag = call(base, token, "GET", f"/dags/{DAG_ID}")
        assert dag["is_paused"] is True  # new DAGs start paused, as on MWAA
        # Unpausing lets the scheduler create the run of the latest closed interval: give it
        # its day of data too, so both runs must succeed.
        scheduled_day = date.fromisoformat(dag["next_dagrun_data_interval_start"][:10])
        sample_data.write_day(s3, provisioned.names.raw_bucket, scheduled_day, events=500, seed=6)
        sample_data.write_day(s3, provisioned.names.raw_bucket, BROKEN_DAY, events=300, seed=7)
        s3.put_object(
            Bucket=provisioned.names.raw_bucket,
            Key=f"events/dt={BROKEN_DAY}/part-09999.jsonl",
            Body=b"<html><body>502 Bad Gateway</body></html>\n" * GARBAGE,
        )
        call(base, token, "PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
        triggered = call(
            base,
            token,
            "POST",
            f"/dags/{DAG_ID}/dagRuns",
            {
                "logical_date": None,
                "conf": {
                    "interval_start": MANUAL_DAY.isoformat(),
                    "interval_end": "2026-11-06",
                    "full_refresh": False,
                },
            },
        )
        run_id = triggered["dag_run_id"]
        broken_id = call(
            base, token, "POST", f"/dags/{DAG_ID}/dagRuns",
            {"logical_date": None, "conf": {"interval_start": BROKEN_DAY.isoformat(),
                                            "interval_end": "2026-11-07"}},
        )["dag_run_id"]  # fmt: skip
        manual = wait_for_final_state(base, token, run_id)
        broken = wait_for_final_state(base, token, broken_id)
        runs = call(base, token, "GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
        view_path = f"/lakehouse/runs/{quote(run_id, safe='')}"
        report_path = f"{view_path}/report"
        broken_path = f"/lakehouse/runs/{quote(broken_id, safe='')}"
        refused = [page(base, path, None)[0] for path in ("/lakehouse/", view_path, report_path)]
        listed = page(base, "/lakehouse/", token)
        shown = page(base, view_path, token)
        failed_page = page(base, broken_path, token)
        report = page(base, report_path, token)
        no_report = page(base, f"{broken_path}/report", token)
        plugins = call(base, token, "GET", "/plugins")["plugins"]
        live = browse(base, token, ("/lakehouse/", view_path, report_path, broken_path), stack)

    assert manual["state"] == "success", f"see {stack.dir / 'airflow-server.log'}"
    assert manual["conf"]["interval_start"] == "2026-11-05"
    record = lakehouse.run(triggered["dag_run_id"])
    assert record["status"] == "SUCCEEDED"
    assert (record["interval_start"], record["interval_end"]) == ("2026-11-05", "2026-11-06")
    assert {r["run_type"] for r in runs} >= {"manual"}

    # The Lakehouse view: only with a login, and what it shows is the ledger's.
    assert refused == [401, 401, 401]
    assert listed[0] == 200 and shown[0] == 200, (listed, shown)
    for ledgered in lakehouse.runs():  # the scheduled run may have been running: ids only
        assert f'data-run-id="{ledgered["run_id"]}"' in listed[1]
    row = view_row(listed[1], f'data-run-id="{run_id}"')
    for value in (
        'class="status SUCCEEDED">SUCCEEDED<',
        f"{record['interval_start']} &rarr; {record['interval_end']}",
        f">{record['started_at']}<",
        f">{summary.seconds(summary.run_duration(record))}<",
        f">{record['triggered_by']} ({record['run_type']})<",
    ):
        assert value in row, (value, row)
    assert '<span id="run-status" class="status SUCCEEDED">SUCCEEDED</span>' in shown[1]
    duration = summary.seconds(summary.run_duration(record))
    assert f'<dd id="run-duration">{duration}</dd>' in shown[1]
    assert set(record["stages"]) == {"crawler", "ingest", "dbt_staging", "dbt_marts", "tests"}
    for name, stage in record["stages"].items():
        row = view_row(shown[1], f'data-stage="{name}"')
        assert f">{stage['status']}<" in row and f">{stage['started_at']}<" in row, name
    tests = record["stages"]["tests"]
    assert (
        f"{tests['passed']} passed, {tests['warned']} warned, {tests['failed']} failed, "
        f"{tests['errored']} errored of {tests['total']}"
    ) in shown[1]
    # The tests on the page are the run's rows of Elementary's results.
    elementary = Counter(
        r["status"] for r in lakehouse.test_results(tests["invocation_id"]).to_pylist()
    )
    assert elementary and sum(elementary.values()) == tests["total"]
    assert (elementary["pass"], elementary["warn"], elementary["fail"]) == (
        tests["passed"], tests["warned"], tests["failed"],
    )  # fmt: skip
    # The cost on the page is the record's, stage by stage, and "n/a" where the emulator
    # cannot know a figure.
    cost = summary.run_cost(record)
    assert cost and cost["stages"]
    total = shown[1][shown[1].index('id="cost-total"') : shown[1].index('id="cost"')]
    assert f"Total {usd(cost['total_usd'])} {cost['currency']}" in total
    for name, stage_cost in cost["stages"].items():
        assert f">{usd(stage_cost['usd'])}<" in view_row(shown[1], f'data-cost="{name}"'), name

    # The failed day: its failed stage, cause and quarantine per reason, as recorded.
    assert broken["state"] == "failed"
    failed = lakehouse.run(broken_id)
    assert failed["status"] == "FAILED" and failed_page[0] == 200
    body = failed_page[1]
    assert f'<dd id="failed-stage">{failed["failed_stage"]}</dd>' in body
    assert str(markupsafe.escape(failed["cause"])) in body  # as Jinja escapes it
    reasons = failed["stages"]["dbt_staging"]["accounting"]["events"][str(BROKEN_DAY)]["reasons"]
    assert reasons.get("malformed_json") == GARBAGE, reasons
    for reason, count in reasons.items():
        row = view_row(body, f'data-reason="{reason}"').replace(' class="num"', "")
        assert f"<td>{count}</td>" in row, (reason, row)
    failed_row = view_row(listed[1], f'data-run-id="{broken_id}"')
    assert 'class="status FAILED">FAILED<' in failed_row

    # the DAG run's page has a tab with its record
    views = [v for p in plugins if p["name"] == "lakehouse" for v in p["external_views"]]
    assert {v["destination"]: v["href"] for v in views}["dag_run"] == "/lakehouse/runs/{RUN_ID}"
    # The good day's data-quality report: published by its tests stage, served by the view, and
    # its test counts are the execution's rows of elementary_test_results.
    assert tests["report"] and report[0] == 200, (tests, report[0], report[1][:500])
    assert "<h2>This run</h2>" in report[1]
    expected = execution_test_counts(lakehouse, run_id, record["execution_arn"])
    assert sum(expected.values()) >= tests["total"]
    for status in ("pass", "warn", "fail", "error"):
        assert f'data-figure="latest.tests.{status}">{expected[status]}<' in report[1], status
        day_figure = f'data-figure="tests.{MANUAL_DAY}.{status}">{expected[status]}<'
        assert day_figure in report[1], status
    assert f'id="report-link" href="{report_path}"' in shown[1]
    # The failed day never reached its tests stage: the view says there is no report.
    assert no_report[0] == 404 and "No data-quality report for this run" in no_report[1]
    assert "No data-quality report for this run: it never reached its tests stage" in body

    if live is not None:  # the live pages as headless Chromium loads them, with the login
        listed_dom, run_dom, report_dom, failed_dom = live
        for ledgered in lakehouse.runs():
            assert f'data-run-id="{ledgered["run_id"]}"' in listed_dom
        assert "SUCCEEDED" in view_row(run_dom, 'data-stage="tests"')
        assert 'id="report-link"' in run_dom
        assert f">{GARBAGE}<" in view_row(failed_dom, 'data-reason="malformed_json"')
        # the report's script ran in the browser and drew one bar per status with tests
        assert 'data-rendered="true"' in report_dom
        drawn = {
            m.group(1): int(m.group(2))
            for m in re.finditer(
                rf'data-chart="tests" data-series="(\w+)" data-x="{MANUAL_DAY}" '
                r'data-value="(\d+)"',
                report_dom,
            )
        }
        assert drawn == {s: n for s, n in expected.items() if n}, (drawn, expected)

    # every process was stopped: the API port no longer answers
    port = base.rsplit(":", 1)[1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3)


def browse(base: str, token: str, paths: tuple[str, ...], stack) -> list[str] | None:
    """Each live page's DOM in headless Chromium, logged in as the UI's login leaves the
    browser (the `_token` cookie), and a screenshot of the second page (a run's); None
    without Chromium."""
    if not shutil.which("chromium"):
        return None
    doms = []
    with Chromium(width=1280, height=900) as browser:
        browser.set_cookie(base, "_token", token)
        for i, path in enumerate(paths):
            status = browser.open(f"{base}{path}")
            assert status == 200, (path, status)
            doms.append(browser.dom())
            if i == 1:
                shot = browser.screenshot(stack.dir / "lakehouse-view-run.png")
                if os.environ.get("LAKEHOUSE_VIEW_SCREENSHOT"):
                    shutil.copyfile(shot, os.environ["LAKEHOUSE_VIEW_SCREENSHOT"])
    return doms


def execution_test_counts(lakehouse, run_id: str, execution_arn: str) -> Counter:
    """Statuses of elementary_test_results of every dbt invocation of the run's execution."""
    elementary = lakehouse.resources["names"]["elementary_database"]
    name = execution_arn.rsplit(":", 1)[-1]
    invocations = {
        row["invocation_id"]
        for row in lakehouse.table("dbt_invocations", elementary).to_pylist()
        if row["job_run_id"] == run_id and (row["execution_id"] or "").rsplit(":", 1)[-1] == name
    }
    assert invocations, (run_id, execution_arn)
    return Counter(
        row["status"]
        for row in lakehouse.test_results().to_pylist()
        if row["invocation_id"] in invocations
    )


def view_row(page_html: str, marker: str) -> str:
    """The table row of the Lakehouse view's page that holds `marker`."""
    start = page_html.index(marker)
    return page_html[start : page_html.index("</tr>", start)]


def usd(value) -> str:
    """A figure as the page prints it (templates/run.html's usd macro)."""
    return "n/a" if value is None else f"${value:.4f}"
