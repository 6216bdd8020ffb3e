"""dbt-executor Lambda: `dbt run` for one layer (staging or marts) over the run's interval.

Event: {"stage": "dbt_staging", "select": "staging"|"marts", "run_id": "...",
        "interval": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "lookback_days": 2,
        "full_refresh": false, "full_refresh_models": ["fct_events"]}
Returns the stage record that the state machine stores in the run ledger. Each dbt invocation's
artifacts are kept in S3 (dbt_runtime.artifacts), failed ones included, for the test-executor.
Raises DbtRunError (the Step Functions error name) when any model fails, with dbt's message as
the cause.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from dbt_runtime import artifacts, dbt_invocation, selection
from dbt_runtime.dbt_invocation import Interval, utc_now
from dbt_runtime.row_counts import count_rows
from dbt_runtime.settings import Settings

logger = Logger()


class DbtRunError(RuntimeError):
    """One or more dbt models failed."""


def rows_read(settings: Settings, invocation_id: str, alias: str | None) -> int | None:
    """Rows a locally built Iceberg model's query read from its sources: the output of every
    table scan (raw files, Iceberg snapshots) in the DuckDB profile its materialization wrote.
    Views and Athena models have none. The file is removed once read.

    Raw files are read whole and split into lines (macros/raw_lines.sql): their scan yields one
    row per file, so an UNNEST is counted by its output (the lines) instead of what is below it."""
    if settings.target != "local" or not alias:
        return None
    profile = settings.tmp_dir / f"{alias}__{invocation_id}.profile.json"
    try:
        tree = json.loads(profile.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    profile.unlink(missing_ok=True)
    total, nodes = 0, [tree]
    while nodes:
        node = nodes.pop()
        if node.get("operator_type") in ("TABLE_SCAN", "UNNEST"):
            total += int(node.get("operator_cardinality") or 0)
            if node.get("operator_type") == "UNNEST":
                continue
        nodes += node.get("children") or []
    return total


def _model_records(settings: Settings, outcome: dbt_invocation.DbtOutcome) -> list[dict]:
    models = []
    uncounted = []
    for result in outcome.results:
        node = outcome.manifest_nodes.get(result["unique_id"], {})
        response = result.get("adapter_response") or {}
        rows = response.get("rows_affected")
        relation = node.get("relation_name")
        if (rows is None or rows < 0) and result["status"] == "success" and relation:
            uncounted.append(relation)
        models.append(
            {
                "name": node.get("name", result["unique_id"].split(".")[-1]),
                "relation": relation,
                "materialized": (node.get("config") or {}).get("materialized"),
                "status": result["status"],
                "full_refresh": outcome.full_refresh,
                "rows": rows if rows is not None and rows >= 0 else None,
                "duration_s": round(result.get("execution_time") or 0.0, 3),
                "message": result.get("message"),
                # dbt-athena reports the bytes Athena scanned; locally DuckDB's profiler counts
                # the rows the model's build query scanned (the iceberg_table materialization).
                "bytes_scanned": response.get("data_scanned_in_bytes"),
                "rows_read": rows_read(settings, outcome.invocation_id, node.get("alias")),
            }
        )
    counted = count_rows(settings, uncounted)
    for model in models:
        if model["rows"] is None and model["relation"] in counted:
            model["rows"] = counted[model["relation"]]
    return models


def _failure_details(failed: list[dict]) -> str:
    """One entry per distinct cause: the bad-share check fails every mart it guards with the
    same message, which dbt only frames with the model's name."""
    causes: dict[str, tuple[list[str], str]] = {}
    for model in failed:
        message = model["message"] or ""
        cause = "\n".join(line for line in message.splitlines() if model["name"] not in line)
        causes.setdefault(cause, ([], message))[0].append(model["name"])
    return "; ".join(f"{', '.join(names)}: {message}" for names, message in causes.values())


def _rebuild_staging_views(
    settings: Settings, event: dict, refresh_models: list[str], dbt_vars: dict
) -> None:
    """A redrive that starts at the marts: rebuild the staging views for this run first.

    The views are shared by every run and hold the interval of whichever run built them last
    (a backfill has run other days since the failure), so the marts would read another day.
    They are views: rebuilding them writes no data, and the failed run's staging record stands.
    """
    for step in selection.invocations("staging", bool(event.get("full_refresh")), refresh_models):
        outcome = dbt_invocation.run(
            settings, ["run", *step.args()], dbt_vars, full_refresh=step.full_refresh
        )
        if not outcome.success:
            raise DbtRunError(
                f"the staging views could not be rebuilt for the redrive: {outcome.exception}"
            )


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    settings = Settings.from_env()
    try:
        return _run_stage(settings, event)
    finally:
        dbt_invocation.release_local_database(settings)


def _run_stage(settings: Settings, event: dict) -> dict:
    interval = Interval.from_event(event)
    layer = event.get("select")
    artifacts.location(settings, event)  # a malformed event fails before dbt runs
    refresh_models = selection.requested_models(event, settings.dbt_project_dir)
    plan = selection.invocations(layer, bool(event.get("full_refresh")), refresh_models)
    dbt_vars = dbt_invocation.dbt_vars(
        settings,
        event,
        interval,
        selection.lookback_days(event),
        selection.max_bad_row_share(event),
    )
    logger.append_keys(run_id=event.get("run_id"), stage=event.get("stage"), layer=layer)
    started_at = utc_now()
    if layer == "marts" and event.get("resume_from") == "dbt_marts":
        _rebuild_staging_views(settings, event, refresh_models, dbt_vars)
    models: list[dict] = []
    invocation_ids: list[str] = []
    elapsed = 0.0
    for step in plan:
        outcome = dbt_invocation.run(
            settings, ["run", *step.args()], dbt_vars, full_refresh=step.full_refresh
        )
        elapsed += outcome.elapsed_s
        if not outcome.results and outcome.exception:
            raise DbtRunError(f"dbt run could not start: {outcome.exception}")
        invocation_ids.append(outcome.invocation_id)
        step_models = _model_records(settings, outcome)
        models += step_models
        # Kept before any failure is raised: the test-executor records failed runs too.
        counted = {
            r["unique_id"]: m["rows"] for r, m in zip(outcome.results, step_models, strict=True)
        }
        artifacts.save(settings, event, event.get("stage", f"dbt_{layer}"), outcome, counted)
        failed = [m for m in models if m["status"] not in ("success", "skipped")]
        if failed:
            raise DbtRunError(
                f"{len(failed)} of {len(models)} dbt model(s) failed: {_failure_details(failed)}"
            )
        if not outcome.success:
            raise DbtRunError(f"dbt run failed: {outcome.exception or 'see the function logs'}")

    record = {
        "stage": event.get("stage", f"dbt_{layer}"),
        "status": "SUCCEEDED",
        "started_at": started_at,
        "ended_at": utc_now(),
        "duration_s": round(elapsed, 3),
        "invocation_id": invocation_ids[-1],
        "invocation_ids": invocation_ids,
        "target": settings.target,
        "lookback_days": dbt_vars.get("lookback_days"),
        "max_bad_row_share": dbt_vars.get("max_bad_row_share"),
        "models": models,
    }
    logger.info("dbt run finished", extra={"record": record})
    return record
