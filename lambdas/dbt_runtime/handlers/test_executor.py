"""test-executor Lambda: `dbt test` over the run's interval, one Elementary row per test.

Every test is recorded, pass, warn, fail or error, in one Iceberg commit per run (one writer,
commit retried). Test failures are data, not a crash: the counts are returned and the state
machine decides. Only a dbt that cannot run at all raises (DbtTestError).
"""

from __future__ import annotations

from collections import Counter

from aws_lambda_powertools import Logger

from dbt_runtime import dbt_invocation, elementary, iceberg, selection
from dbt_runtime.dbt_invocation import Interval, utc_now
from dbt_runtime.settings import Settings

logger = Logger()


class DbtTestError(RuntimeError):
    """dbt test could not run."""


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    settings = Settings.from_env()
    interval = Interval.from_event(event)
    logger.append_keys(run_id=event.get("run_id"), stage=event.get("stage", "tests"))
    started_at = utc_now()
    try:
        outcome = dbt_invocation.run(
            settings,
            ["test"],
            dbt_invocation.dbt_vars(settings, event, interval, selection.lookback_days(event)),
        )
    finally:
        dbt_invocation.release_local_database(settings)
    if not outcome.results:
        raise DbtTestError(f"dbt test did not run: {outcome.exception or 'no results'}")

    rows = elementary.test_result_rows(
        outcome.invocation_id, outcome.results, outcome.manifest_nodes
    )
    written = iceberg.append(
        settings.elementary_database, elementary.TEST_RESULTS_TABLE, elementary.as_arrow(rows)
    )
    statuses = Counter(row["status"] for row in rows)
    record = {
        "stage": event.get("stage", "tests"),
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
        "results_rows_written": written["rows_written"],
    }
    logger.info("dbt test finished", extra={"record": record})
    return record
