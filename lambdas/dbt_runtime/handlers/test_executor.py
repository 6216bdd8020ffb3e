"""test-executor Lambda: `dbt test` over the run's interval, then Elementary's tables.

The one writer of Elementary's tables for an execution: it records its own `dbt test` and every
dbt invocation the dbt-executor kept for the same execution (dbt_runtime.artifacts) in
elementary_test_results, dbt_run_results, dbt_invocations, dbt_models and dbt_tests, one commit
per table, each retried when another writer committed first. Rows are replaced by invocation
id, so writing an execution again (a retried invocation) never duplicates them.

Test failures are data, not a crash: the counts are returned and the state machine decides.
Only a dbt that cannot run at all raises (DbtTestError).

At the end of a tests stage (passed or failed) it publishes the data-quality report of the last
days, about this run (dbt_runtime.dq_report), to S3 and names it in its result (`report`), which
the run record keeps and the Airflow view serves. The report is a view of what was recorded, not
part of the run's outcome: a report that cannot be built or stored is logged and recorded as
`report: null` with `report_error`, and the stage's status is the tests' alone.

Event {"mode": "record_only", "failed_stage": ...}: the state machine's failure path. No dbt
test runs; what the execution did run is recorded, failed models included, and the tests that
never ran get `skipped` rows in dbt_run_results.
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools import Logger

from dbt_runtime import artifacts, dbt_invocation, dq_report, elementary, iceberg, selection
from dbt_runtime.dbt_invocation import Interval, InvalidEvent, utc_now
from dbt_runtime.settings import Settings

logger = Logger()
MODES = ("test", "record_only")


class DbtTestError(RuntimeError):
    """dbt test could not run."""


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    settings = Settings.from_env()
    mode = event.get("mode") or "test"
    if mode not in MODES:
        raise InvalidEvent(f"event.mode must be one of {MODES}, got {mode!r}")
    artifacts.location(settings, event)  # a malformed event fails before dbt runs
    logger.append_keys(run_id=event.get("run_id"), stage=event.get("stage", "tests"), mode=mode)
    if mode == "record_only":
        return record_only(settings, event)
    return run_tests(settings.for_run(dbt_invocation.run_key(event)), event)


def record(settings: Settings, documents: list[dict]) -> dict[str, int]:
    """Write one execution's invocations to Elementary's tables; rows written per table."""
    written = {}
    if not documents:
        return written
    for table, (rows, key) in elementary.tables(documents).items():
        result = iceberg.replace(settings.elementary_database, table, rows, key)
        written[table] = result["rows_written"]
    return written


def record_only(settings: Settings, event: dict) -> dict:
    started_at = utc_now()
    documents = artifacts.load(settings, event)
    written = record(settings, documents)
    result = {
        "stage": event.get("stage", "record_artifacts"),
        "status": "SUCCEEDED",
        "started_at": started_at,
        "ended_at": utc_now(),
        "failed_stage": event.get("failed_stage"),
        "invocation_ids": [doc["invocation_id"] for doc in documents],
        "elementary_rows": written,
    }
    logger.info("dbt artifacts recorded", extra={"record": result})
    return result


def publish_report(settings: Settings, event: dict) -> dict:
    """The stage's report fields; never raises (see the module's docstring)."""
    try:
        return dq_report.publish(settings, event)
    except Exception as exc:  # noqa: BLE001 - any failure of the report is recorded, not raised
        logger.exception("data-quality report not published")
        return {"report": None, "report_error": f"{type(exc).__name__}: {exc}"[:500]}


def run_tests(settings: Settings, event: dict) -> dict:
    interval = Interval.from_event(event)
    started_at = utc_now()
    try:
        outcome = dbt_invocation.run(
            settings,
            # The gates ran with the models they guard (dbt_executor, selection.GATES).
            ["test", "--exclude", *selection.GATES.values()],
            {
                **dbt_invocation.dbt_vars(
                    settings, event, interval, selection.lookback_days(event)
                ),
                "test_whole_tables": selection.tests_read_whole_tables(event),
            },
        )
    finally:
        dbt_invocation.release_local_database(settings)
    if not outcome.results:
        raise DbtTestError(f"dbt test did not run: {outcome.exception or 'no results'}")

    stage = event.get("stage", "tests")
    artifacts.save(settings, event, stage, outcome)
    written = record(settings, artifacts.load(settings, event))
    rows = elementary.test_result_rows(
        outcome.invocation_id, outcome.results, outcome.manifest_nodes
    )
    statuses = Counter(row["status"] for row in rows)
    record_ = {
        "stage": stage,
        "status": "SUCCEEDED" if statuses["fail"] + statuses["error"] == 0 else "FAILED",
        "started_at": started_at,
        "ended_at": utc_now(),
        "duration_s": round(outcome.elapsed_s, 3),
        "invocation_id": outcome.invocation_id,
        "total": len(rows),
        "passed": statuses["pass"],
        "warned": statuses["warn"],
        "failed": statuses["fail"],
        "errored": statuses["error"],
        "failing_tests": [
            {"test": row["test_short_name"], "status": row["status"], "failures": row["failures"]}
            for row in rows
            if row["status"] in ("fail", "error", "warn")
        ],
        "results_table": f"{settings.elementary_database}.{elementary.TEST_RESULTS_TABLE}",
        "results_rows_written": written.get(elementary.TEST_RESULTS_TABLE, 0),
        "elementary_rows": written,
    }
    record_.update(publish_report(settings, event))
    record_["ended_at"] = utc_now()
    logger.info("dbt test finished", extra={"record": record_})
    return record_
