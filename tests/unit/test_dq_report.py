"""The data-quality report the test-executor publishes (lambdas/dbt_runtime/dq_report.py): its
window over Elementary's tables, the page about one run, and its object in S3 (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from dbt_runtime import dq_report
from dbt_runtime.elementary import INVOCATIONS_TABLE, RUN_RESULTS_TABLE, TEST_RESULTS_TABLE
from dbt_runtime.handlers import test_executor
from moto import mock_aws
from pyiceberg.expressions import AlwaysTrue, GreaterThanOrEqual

from tests.runtime_settings import test_settings

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
OLD = (NOW - timedelta(days=40)).replace(tzinfo=None)
RECENT = (NOW - timedelta(hours=1)).replace(tzinfo=None)
RUN = "scheduled__2026-12-06T06:00:00+00:00"
EXECUTION = "arn:aws:states:us-east-1:1:execution:sm:run-xyz-t1"


class Table:
    """A pyiceberg table's scan, as far as the report uses it: the row filter is applied and
    kept, so a test sees which column bounds the window."""

    def __init__(self, rows: list[dict]):
        self.rows, self.filters = rows, []

    def scan(self, row_filter):
        self.filters.append(row_filter)
        if isinstance(row_filter, AlwaysTrue):
            return _Arrow(self.rows)
        assert isinstance(row_filter, GreaterThanOrEqual)
        since = datetime.fromisoformat(row_filter.literal.value)
        name = row_filter.term.name
        return _Arrow([r for r in self.rows if r[name] >= since])


class _Arrow:
    def __init__(self, rows):
        self.rows = rows

    def to_arrow(self):
        return self

    def to_pylist(self):
        return self.rows


def invocation(invocation_id, run_id, day, written, stage="tests"):
    return {
        "invocation_id": invocation_id,
        "job_run_id": run_id,
        "execution_id": f"{EXECUTION[:-2]}-{invocation_id}" if run_id != RUN else EXECUTION,
        "stage": stage,
        "command": "test",
        "interval_start": day,
        "interval_end": day,
        "run_started_at": written.isoformat(),
        "run_completed_at": written.isoformat(),
        "created_at": written,
    }


def result_row(invocation_id, name, status, written):
    return {
        "invocation_id": invocation_id,
        "model_execution_id": f"{invocation_id}.test.{name}",
        "unique_id": f"test.lakehouse.{name}",
        "name": name,
        "resource_type": "test",
        "status": status,
        "created_at": written,
        "detected_at": written,
        "test_short_name": name,
        "test_type": "dbt_test",
    }


def tables() -> dict[str, Table]:
    runs = [
        ("inv-old", "scheduled__old", "2026-10-27", OLD),
        ("inv-now", RUN, "2026-12-06", RECENT),
    ]
    results = [
        result_row("inv-old", "unique_fct_events_event_id", "fail", OLD),
        result_row("inv-now", "unique_fct_events_event_id", "pass", RECENT),
        result_row("inv-now", "not_null_fct_events_user_id", "fail", RECENT),
        # written in the window by an invocation outside it: not the window's
        result_row("inv-old", "accepted_values_late", "pass", RECENT),
    ]
    return {
        INVOCATIONS_TABLE: Table([invocation(*r) for r in runs]),
        RUN_RESULTS_TABLE: Table(results),
        TEST_RESULTS_TABLE: Table(results),
    }


def test_the_window_reads_only_recent_rows_by_each_tables_write_time():
    found = tables()
    invocations, run_results, test_results = dq_report.read(
        found.get, dq_report.window_start(14, NOW)
    )
    assert [i["invocation_id"] for i in invocations] == ["inv-now"]
    assert {r["invocation_id"] for r in run_results + test_results} == {"inv-now"}
    columns = {name: t.filters[0].term.name for name, t in found.items()}
    assert columns == {
        INVOCATIONS_TABLE: "created_at",
        RUN_RESULTS_TABLE: "created_at",
        TEST_RESULTS_TABLE: "detected_at",
    }
    everything = dq_report.read(tables().get)
    assert len(everything[0]) == 2 and len(everything[2]) == 4
    assert dq_report.read(lambda table: None) == ([], [], [])  # nothing recorded yet


def settings(tmp_path: Path):
    return test_settings(tmp_path)


@mock_aws
def test_publish_puts_the_page_about_the_run_under_the_reports_prefix(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="curated")
    event = {"run_id": RUN, "execution_id": EXECUTION}
    fields = dq_report.publish(settings(tmp_path), event, table_of=tables().get, s3=s3, now=NOW)
    key = "dbt_artifacts/reports/scheduled__2026-12-06T06_00_00_00_00/run-xyz-t1.html"
    assert fields == {"report": f"s3://curated/{key}", "report_window_days": 14}
    stored = s3.get_object(Bucket="curated", Key=key)
    assert stored["ContentType"] == "text/html; charset=utf-8"
    page = stored["Body"].read().decode()
    assert "<h2>This run</h2>" in page
    assert f'data-figure="latest.run_id">{RUN}<' in page
    for status, count in (("pass", 1), ("warn", 0), ("fail", 1), ("skipped", 0)):
        assert f'data-figure="latest.tests.{status}">{count}<' in page
    assert "in the last 14" in page
    assert "scheduled__old" not in page  # outside the window


@mock_aws
def test_a_report_that_cannot_be_stored_is_recorded_not_raised(tmp_path, monkeypatch):
    s3 = boto3.client("s3", region_name="us-east-1")  # no bucket: the put fails
    publish = dq_report.publish
    monkeypatch.setattr(
        dq_report,
        "publish",
        lambda settings, event: publish(settings, event, table_of=tables().get, s3=s3, now=NOW),
    )
    fields = test_executor.publish_report(settings(tmp_path), {"run_id": RUN})
    assert fields["report"] is None
    assert fields["report_error"].startswith("NoSuchBucket: ")
