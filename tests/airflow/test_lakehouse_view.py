"""The Lakehouse view (plugins/lakehouse/view.py) mounted as Airflow's API server mounts a
plugin app, reading a run ledger in moto's DynamoDB through the `aws_default` connection and
the Variable `lakehouse_config`, as on MWAA; and its auth: Airflow's auth manager decides.

moto runs as a server from .venvs/local (the Airflow environment has no moto), reached through
the connection's endpoint_url, as the local stack is."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]
LOCAL_PYTHON = REPO / ".venvs" / "local" / "bin" / "python"
PIPELINE = "lakehouse_raw_to_curated"
TABLE = "lakehouse-test-runs"
OK_RUN = "scheduled__2026-11-21T06:00:00+00:00"
FAILED_RUN = "manual__2026-11-10T07:00:00+00:00"
CURATED = "lakehouse-test-curated"
REPORT_KEY = "dbt_artifacts/reports/scheduled__2026-11-21T06_00_00_00_00/first.html"
REPORT_HTML = "<!doctype html><title>Data-quality report</title><p id=dq>31 pass</p>"


def stage(**doc) -> str:
    return json.dumps(doc)  # the ledger stores each stage as a JSON string


RECORDS = [
    {
        "pipeline": PIPELINE,
        "run_id": OK_RUN,
        "status": "SUCCEEDED",
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
        "triggered_by": "timetable",
        "run_type": "scheduled",
        "started_at": "2026-11-21T06:00:00.000+00:00",
        "finished_at": "2026-11-21T06:01:40.000Z",
        "cost": json.dumps(
            {
                "currency": "USD",
                "region": "us-east-1",
                "prices_as_of": "2026-12-01",
                "stages": {
                    "crawler": {
                        "lambda_gb_s": None,
                        "lambda_requests": 0,
                        "athena_bytes": None,
                        "crawler_dpu_hours": None,
                        "usd": None,
                    },
                    "dbt_staging": {
                        "lambda_gb_s": 26.4,
                        "lambda_requests": 1,
                        "athena_bytes": None,
                        "crawler_dpu_hours": None,
                        "usd": 0.00044,
                    },
                },
                "state_machine": {"transitions": 21, "usd": 0.000525},
                "total_usd": 0.000965,
                "not_known": ["crawler DPU-hours (crawler)", "Athena bytes scanned (dbt_staging)"],
            }
        ),
        "stages": {
            "crawler": stage(
                status="SUCCEEDED",
                started_at="2026-11-21T06:00:02+00:00",
                ended_at="2026-11-21T06:00:40+00:00",
                duration_s=38.0,
            ),
            "dbt_staging": stage(
                status="SUCCEEDED",
                target="local",
                started_at="2026-11-21T06:00:41Z",
                ended_at="2026-11-21T06:00:50Z",
                models=[{"name": "stg_raw_events", "status": "success", "rows": 3000}],
                accounting={
                    "events": {
                        "2026-11-20": {
                            "delivered": 3017,
                            "accepted": 3000,
                            "quarantined": 12,
                            "held_back": 5,
                            "reasons": {"late_event": 5, "bad_json": 3, "missing_user_id": 9},
                        }
                    }
                },
            ),
            "dbt_marts": stage(
                status="SUCCEEDED",
                target="local",
                started_at="2026-11-21T06:00:51Z",
                ended_at="2026-11-21T06:01:20Z",
                duration_s=29.0,
                models=[
                    {"name": "fct_events", "status": "success", "rows": 2990, "rows_read": 3000},
                    {"name": "quarantined_events", "status": "success", "rows": 12},
                ],
            ),
            "tests": stage(
                status="SUCCEEDED",
                started_at="2026-11-21T06:01:21Z",
                ended_at="2026-11-21T06:01:39Z",
                duration_s=18.0,
                total=31,
                passed=31,
                warned=0,
                failed=0,
                errored=0,
                failing_tests=[],
                report=f"s3://{CURATED}/{REPORT_KEY}",
                report_window_days=14,
            ),
        },
    },
    {
        "pipeline": PIPELINE,
        "run_id": FAILED_RUN,
        "status": "FAILED",
        "interval_start": "2026-11-10",
        "interval_end": "2026-11-11",
        "triggered_by": "alice",
        "run_type": "manual",
        "started_at": "2026-11-22T07:00:00.000+00:00",
        "finished_at": "2026-11-22T07:00:30.000+00:00",
        "failed_stage": "tests",
        "error": "DataTestsFailed",
        "cause": "1 failed and 0 errored of 30 dbt tests: <not_null_fct_events_user_id>",
        "stages": {
            "tests": stage(
                status="FAILED",
                started_at="2026-11-22T07:00:10Z",
                ended_at="2026-11-22T07:00:29Z",
                duration_s=19.0,
                total=30,
                passed=29,
                warned=0,
                failed=1,
                errored=0,
                failing_tests=[
                    {"test": "not_null_fct_events_user_id", "status": "fail", "failures": 4}
                ],
                report=None,
                report_error="ClientError: Access Denied",
            )
        },
    },
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    if not LOCAL_PYTHON.exists():
        pytest.skip(f"moto's server runs from {LOCAL_PYTHON} (make install)")
    port = free_port()
    proc = subprocess.Popen(
        [str(LOCAL_PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ledger_table(moto_endpoint):
    import boto3
    from lakehouse.run_record import HASH_KEY, RANGE_KEY

    ddb = boto3.resource(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": HASH_KEY, "AttributeType": "S"},
            {"AttributeName": RANGE_KEY, "AttributeType": "S"},
        ],
    )
    for record in RECORDS:
        table.put_item(Item=record)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=CURATED)
    s3.put_object(Bucket=CURATED, Key=REPORT_KEY, Body=REPORT_HTML.encode())
    return table


@pytest.fixture
def airflow_settings(monkeypatch, moto_endpoint, ledger_table):
    """The connection and Variable as the local stack gives them to Airflow."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_VAR_LAKEHOUSE_CONFIG",
        json.dumps({"pipeline": PIPELINE, "runs_table": TABLE, "curated_bucket": CURATED}),
    )


def mounted(view):
    """The app under /lakehouse of a parent app, as Airflow's API server mounts plugin apps."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from lakehouse.view import URL_PREFIX

    parent = FastAPI()
    parent.mount(URL_PREFIX, view)
    return TestClient(parent)


@pytest.fixture
def client(airflow_settings):
    from lakehouse.view import create_app

    view = create_app()
    # Authorization looks the DAG's team up in Airflow's database, which this test has not;
    # the auth tests below run the real check.
    view.dependency_overrides[view.state.can_read_runs] = lambda: None
    return mounted(view)


def cells(html: str, row_marker: str) -> str:
    """The HTML of the table row holding `row_marker`."""
    start = html.index(row_marker)
    return html[start : html.index("</tr>", start)]


def test_the_list_shows_the_ledgers_runs_newest_first(client):
    response = client.get("/lakehouse/")
    assert response.status_code == 200, response.text
    html = response.text
    assert f"run ledger <code>{TABLE}</code>: 2 runs" in html
    assert html.index(f'data-run-id="{FAILED_RUN}"') < html.index(f'data-run-id="{OK_RUN}"')
    failed = cells(html, f'data-run-id="{FAILED_RUN}"')
    for value in ("FAILED", "2026-11-10 &rarr; 2026-11-11", "30.0s", "tests", "alice (manual)"):
        assert value in failed
    ok = cells(html, f'data-run-id="{OK_RUN}"')
    for value in ("SUCCEEDED", "2026-11-21T06:00:00.000+00:00", "100.0s", "timetable"):
        assert value in ok
    # the run's record in the view, and its DAG run in the Airflow UI (outside the frame)
    assert 'href="/lakehouse/runs/manual__2026-11-10T07%3A00%3A00%2B00%3A00"' in failed
    assert (
        'href="/dags/lakehouse_raw_to_curated/runs/manual__2026-11-10T07%3A00%3A00%2B00%3A00" '
        'target="_top"' in failed
    )

    only_failed = client.get("/lakehouse/", params={"status": "FAILED"}).text
    assert FAILED_RUN in only_failed and OK_RUN not in only_failed


def test_a_runs_page_shows_its_stages_models_tests_and_quarantine(client):
    html = client.get("/lakehouse/runs/" + OK_RUN.replace(":", "%3A").replace("+", "%2B")).text
    assert 'id="run-status" class="status SUCCEEDED"' in html
    assert '<dd id="run-duration">100.0s</dd>' in html
    assert '<dd id="quarantined">12</dd>' in html
    stages = html[html.index('id="stages"') : html.index('id="models"')]
    order = [stages.index(f'data-stage="{name}"') for name in ("crawler", "dbt_staging")]
    assert order == sorted(order)
    staging = cells(html, 'data-stage="dbt_staging"')
    # no duration_s recorded: it comes from the stage's own start and end
    assert "2026-11-21T06:00:41Z" in staging and "9.0s" in staging
    assert "left: 41.0%; width: 9.0%" in staging  # 41 s into a 100 s run
    assert "2990" in cells(html, 'data-model="fct_events"')
    assert "read 3000 rows" in cells(html, 'data-model="fct_events"')
    assert "31 passed, 0 warned, 0 failed, 0 errored of 31" in html
    assert "<td>3017</td>" in html.replace(' class="num"', "")  # the day's delivered lines
    reasons = html[html.index('id="quarantine-reasons"') :]
    order = [reasons.index(f'data-reason="{r}"') for r in ("missing_user_id", "late_event")]
    assert order == sorted(order)  # most frequent first
    assert "<td>9</td>" in cells(html, 'data-reason="missing_user_id"').replace(' class="num"', "")
    assert 'id="failure"' not in html
    total = html[html.index('id="cost-total"') : html.index('id="cost"')]
    assert "Total $0.0010 USD" in total and "n/a: crawler DPU-hours (crawler)" in total
    assert "$0.0004" in cells(html, 'data-cost="dbt_staging"')
    assert "n/a" in cells(html, 'data-cost="crawler"')  # never shown as $0
    assert "$0.0000" not in cells(html, 'data-cost="crawler"')


def test_a_failed_runs_page_shows_the_cause_and_the_failing_tests(client):
    html = client.get(f"/lakehouse/runs/{FAILED_RUN}").text
    assert '<dd id="failed-stage">tests</dd>' in html and '<dd id="error">DataTestsFailed' in html
    # the cause is dbt's text, escaped, not markup
    assert "of 30 dbt tests: &lt;not_null_fct_events_user_id&gt;</pre>" in html
    failing = cells(html, "<td>not_null_fct_events_user_id</td>")
    assert "fail" in failing and "4" in failing
    assert "29 passed, 0 warned, 1 failed, 0 errored of 30" in html
    for name in ("crawler", "dbt_staging", "dbt_marts"):  # the stages it never reached
        assert "not reached" in cells(html, f'data-stage="{name}"')
    assert '<dd id="quarantined">- (no dbt model ran)</dd>' in html
    assert "n/a: the cost is recorded when the run's execution ends" in html


def test_a_runs_report_is_the_stored_page_served_as_html(client):
    run_page = client.get(f"/lakehouse/runs/{OK_RUN}").text
    report_href = "/lakehouse/runs/scheduled__2026-11-21T06%3A00%3A00%2B00%3A00/report"
    assert f'id="report-link" href="{report_href}"' in run_page
    response = client.get(report_href)
    assert response.status_code == 200, response.text
    assert response.text == REPORT_HTML  # as stored, not re-rendered
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_no_report_is_said_plainly(client):
    run_page = client.get(f"/lakehouse/runs/{FAILED_RUN}").text
    assert 'id="report-link"' not in run_page
    assert "publishing it failed (ClientError: Access Denied)" in run_page
    response = client.get(f"/lakehouse/runs/{FAILED_RUN}/report")
    assert response.status_code == 404
    assert "No data-quality report for this run" in response.text
    assert "ClientError: Access Denied" in response.text
    unknown = client.get("/lakehouse/runs/manual__nope/report")
    assert unknown.status_code == 404 and "is not in the run ledger" in unknown.text


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://{CURATED}/dbt_artifacts/first.json",  # an artifact, not a report
        f"s3://other-bucket/{REPORT_KEY}",
        f"s3://{CURATED}/dbt_artifacts/reports/../parses/x.html",
        f"{CURATED}/{REPORT_KEY}",
    ],
)
def test_only_objects_under_the_reports_prefix_are_served(uri):
    from lakehouse.view import NoReport, report_location

    record = {"stages": {"tests": stage(status="SUCCEEDED", report=uri)}}
    with pytest.raises(NoReport, match="is not under"):
        report_location(record, CURATED)
    record = {"stages": {"tests": stage(status="SUCCEEDED", report=f"s3://{CURATED}/{REPORT_KEY}")}}
    assert report_location(record, CURATED) == (CURATED, REPORT_KEY)
    with pytest.raises(NoReport, match="never reached its tests stage"):
        report_location({"stages": {}}, CURATED)


def test_an_unknown_run_is_a_readable_404(client):
    response = client.get("/lakehouse/runs/manual__nope")
    assert response.status_code == 404
    assert (
        "run &#39;manual__nope&#39; is not in the run ledger lakehouse-test-runs" in response.text
    )


@pytest.fixture
def auth_manager(airflow_settings, monkeypatch):
    """Airflow's SimpleAuthManager with logins required (as on a shared Airflow)."""
    from airflow import settings
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.models import import_all_models
    from airflow.models.base import Base

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "viewer:viewer")
    # Token checks read Airflow's database (revoked tokens, the DAG's team): its tables, empty,
    # in the session's private Airflow home (a fraction of a second, unlike `db migrate`).
    import_all_models()
    Base.metadata.create_all(settings.engine)
    return init_auth_manager()


def test_pages_need_a_user_the_auth_manager_lets_read_the_dags_runs(auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from lakehouse.view import create_app

    client = mounted(create_app())
    paths = (
        "/lakehouse/",
        f"/lakehouse/runs/{OK_RUN}",
        "/lakehouse/runs/manual__nope",
        f"/lakehouse/runs/{OK_RUN}/report",
    )
    for path in paths:
        assert client.get(path).status_code == 401, path  # no token: refused, nothing read
    bogus = {"Authorization": "Bearer not-a-token"}
    assert client.get("/lakehouse/", headers=bogus).status_code == 403

    no_role = auth_manager.generate_jwt(SimpleAuthManagerUser(username="nobody", role=None))
    refused = client.get("/lakehouse/", headers={"Authorization": f"Bearer {no_role}"})
    assert refused.status_code == 403

    viewer = auth_manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    allowed = client.get("/lakehouse/", headers={"Authorization": f"Bearer {viewer}"})
    assert allowed.status_code == 200 and FAILED_RUN in allowed.text
    # the browser's way: the UI's login leaves the token in the `_token` cookie
    client.cookies.set("_token", viewer)
    assert client.get(f"/lakehouse/runs/{OK_RUN}").status_code == 200
    assert client.get(f"/lakehouse/runs/{OK_RUN}/report").text == REPORT_HTML


def test_the_plugin_registers_the_app_and_the_views_without_importing_them():
    script = """
import sys
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()
plugin = next(p for p in plugins_manager._get_plugins()[0] if p.name == "lakehouse")
views = {v["destination"]: v["href"] for v in plugin.external_views}
assert views == {"nav": "/lakehouse/", "dag_run": "/lakehouse/runs/{RUN_ID}"}, views
assert [a["url_prefix"] for a in plugin.fastapi_apps] == ["/lakehouse"]
heavy = sorted(m for m in ("fastapi", "airflow.api_fastapi") if m in sys.modules)
print("heavy", heavy)
"""
    # (boto3 and jinja2 are loaded anyway: Airflow itself and the other plugin modules.)
    import os
    import sys

    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "heavy []" in result.stdout, result.stdout
