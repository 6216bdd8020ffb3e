"""dbt-executor Lambda: `dbt run` for one layer (staging or marts) over the run's interval.

Event: {"stage": "dbt_staging", "select": "staging"|"marts", "run_id": "...", "run_key": "...",
        "interval": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "lookback_days": 2,
        "full_refresh": false, "full_refresh_models": ["fct_events"]}
Returns the stage record that the state machine stores in the run ledger. Each dbt invocation's
artifacts are kept in S3 (dbt_runtime.artifacts), failed ones included, for the test-executor.
Raises DbtRunError (the Step Functions error name) when any model fails, with dbt's message as
the cause, and MartsLockBusy when another run is merging into the marts (retried by the state
machine). {"select": "cleanup"} drops the run's own relations once the run has succeeded.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aws_lambda_powertools import Logger

from dbt_runtime import (
    accounting,
    artifacts,
    bad_row_share,
    dbt_invocation,
    merge_lock,
    raw_inputs,
    raw_lines,
    selection,
)
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


RAW_SOURCE_PREFIX = "source.lakehouse.raw."


def raw_reads(outcome: dbt_invocation.DbtOutcome) -> dict[str, int]:
    """How many of the invocation's executed nodes read each raw source table: the statements
    that scan the raw zone (dbt's manifest knows what each node reads, on both engines)."""
    reads: dict[str, int] = {}
    for result in outcome.results:
        if result["status"] == "skipped":
            continue
        node = outcome.manifest_nodes.get(result["unique_id"], {})
        for parent in (node.get("depends_on") or {}).get("nodes") or []:
            if parent.startswith(RAW_SOURCE_PREFIX):
                table = parent.removeprefix(RAW_SOURCE_PREFIX)
                reads[table] = reads.get(table, 0) + 1
    return reads


def _model_results(outcome: dbt_invocation.DbtOutcome) -> list[dict]:
    return [r for r in outcome.results if r["unique_id"].startswith("model.")]


def _gate_failures(outcome: dbt_invocation.DbtOutcome) -> list[str]:
    """The gate tests (dbt_project/tests, tag gate) of the invocation that did not pass."""
    return [
        r["unique_id"]
        for r in outcome.results
        if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")
    ]


def _model_records(settings: Settings, outcome: dbt_invocation.DbtOutcome) -> list[dict]:
    models = []
    uncounted = []
    for result in _model_results(outcome):
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
                # On Athena the bytes every statement of the model scanned (its temporary
                # table and hooks too: dbt-athena's own figure is its last statement's);
                # unknown (None) where nothing was counted. Locally DuckDB's profiler counts
                # the rows the model's build query scanned (the iceberg_table materialization).
                "bytes_scanned": (outcome.bytes_scanned or {}).get(result["unique_id"]),
                "rows_read": rows_read(settings, outcome.invocation_id, node.get("alias")),
            }
        )
    counted = count_rows(settings, uncounted)
    for model in models:
        if model["rows"] is None and model["relation"] in counted:
            model["rows"] = counted[model["relation"]]
    return models


def _failure_details(failed: list[dict]) -> str:
    """One entry per distinct cause: one error can fail several models with the same message,
    which dbt only frames with each model's name."""
    causes: dict[str, tuple[list[str], str]] = {}
    for model in failed:
        message = model["message"] or ""
        cause = "\n".join(line for line in message.splitlines() if model["name"] not in line)
        causes.setdefault(cause, ([], message))[0].append(model["name"])
    return "; ".join(f"{', '.join(names)}: {message}" for names, message in causes.values())


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    settings = Settings.from_env().for_run(dbt_invocation.run_key(event))
    try:
        if event.get("select") == "cleanup":
            return _drop_run_relations(settings, event)
        if event.get("select") == "marts":
            pipeline = event.get("pipeline")
            if not isinstance(pipeline, str) or not pipeline:
                raise dbt_invocation.InvalidEvent("event.pipeline must be the pipeline's name")
            lease_s = context.get_remaining_time_in_millis() / 1000
            # Held per execution (its run key), not per run: an earlier try's execution of the
            # same run may still be merging. A retried invocation of this execution re-enters.
            holder = f"{event.get('run_id')} [{dbt_invocation.run_key(event)}]"
            with merge_lock.held(settings, pipeline, holder, lease_s):
                return _run_stage(settings, event)
        return _run_stage(settings, event)
    finally:
        dbt_invocation.release_local_database(settings)


def _drop_run_relations(settings: Settings, event: dict) -> dict:
    """The run succeeded: drop its run-scoped relations (a failed run keeps them for its
    redrive). Locally the run's DuckDB file goes too."""
    started_at = utc_now()
    interval = Interval.from_event(event)
    dbt_invocation.operation(
        settings, "drop_run_relations", dbt_invocation.dbt_vars(settings, event, interval)
    )
    if settings.target == "local":
        dbt_invocation.release_local_database(settings)
        for suffix in ("", ".wal"):
            Path(settings.duckdb_path + suffix).unlink(missing_ok=True)
    return {
        "stage": "cleanup",
        "status": "SUCCEEDED",
        "started_at": started_at,
        "ended_at": utc_now(),
    }


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
    full_refresh = bool(event.get("full_refresh"))
    models: list[dict] = []
    reads: dict[str, int] = {}
    invocation_ids: list[str] = []
    elapsed = 0.0
    reparsed = None

    def run_steps(steps: list[selection.Invocation]) -> None:
        nonlocal elapsed
        for step in steps:
            outcome = dbt_invocation.run(
                settings, step.args(), dbt_vars, full_refresh=step.full_refresh
            )
            elapsed += outcome.elapsed_s
            if not outcome.results and outcome.exception:
                raise DbtRunError(f"dbt could not start: {outcome.exception}")
            invocation_ids.append(outcome.invocation_id)
            for table, count in raw_reads(outcome).items():
                reads[table] = reads.get(table, 0) + count
            step_models = _model_records(settings, outcome)
            models.extend(step_models)
            # Kept before any failure is raised: the test-executor records failed runs too.
            counted = {
                r["unique_id"]: m["rows"]
                for r, m in zip(_model_results(outcome), step_models, strict=True)
            }
            artifacts.save(settings, event, event.get("stage", f"dbt_{layer}"), outcome, counted)
            if _gate_failures(outcome):
                raise DbtRunError(
                    bad_row_share.failure_cause(settings, dbt_vars, interval, full_refresh)
                )
            failed = [m for m in models if m["status"] not in ("success", "skipped")]
            if failed:
                raise DbtRunError(
                    f"{len(failed)} of {len(models)} dbt model(s) failed: "
                    f"{_failure_details(failed)}"
                )
            if not outcome.success:
                raise DbtRunError(f"dbt run failed: {outcome.exception or 'see the function logs'}")

    figures: dict | None = None

    def parse_raw() -> None:
        nonlocal figures
        steps = selection.invocations("staging", full_refresh, refresh_models)
        # Listed before the read: objects landing during it count as changed (and as lines
        # the parse has but the count has not: the accounting check fails the run).
        raw = raw_inputs.inventory(settings, interval, any(s.full_refresh for s in steps))
        dbt_vars["unreadable_objects"] = raw.unreadable_objects()
        if settings.target == "local":
            # DuckDB reads the lines this streams out of raw (dbt_runtime.raw_lines), and the
            # same bytes are counted on the way. The files live as long as the parse.
            with tempfile.TemporaryDirectory(prefix="raw_lines-") as staged:
                try:
                    dbt_vars["raw_lines"], counts = raw_lines.stage(
                        settings, raw.readable(), Path(staged)
                    )
                except raw_lines.RawObjectGone as exc:
                    raise DbtRunError(str(exc)) from exc
                try:
                    run_steps(steps)
                finally:
                    del dbt_vars["raw_lines"]
        else:
            # Athena reads raw itself: the lines are counted from the bytes meanwhile.
            with ThreadPoolExecutor(max_workers=1) as pool:
                counting = pool.submit(raw_inputs.count_lines, settings, raw.readable())
                run_steps(steps)
                counts = counting.result()
        delivered = raw_inputs.delivered(raw, counts)
        try:
            figures = accounting.staged(settings, dbt_vars, delivered)
        except accounting.AccountingError as exc:
            raise DbtRunError(str(exc)) from exc
        raw_inputs.record(settings, dbt_vars["run_key"], raw.digest(), delivered, figures)

    if layer == "staging":
        parse_raw()
    else:
        if event.get("resume_from") == "dbt_marts":
            # A redrive: the failed run's parse stands only if raw is still what it parsed.
            now = raw_inputs.digest(settings, interval, full_refresh)
            if raw_inputs.recorded(settings, dbt_vars["run_key"]) != now:
                reparsed = "the raw objects changed since the failed run's parse"
                logger.info("the redrive parses raw again", extra={"reason": reparsed})
                parse_raw()
        run_steps(plan)
        if figures is None:
            figures = raw_inputs.recorded_figures(settings, dbt_vars["run_key"])
        if figures is not None:
            try:
                replaced = None if full_refresh else set(interval.days())
                figures = accounting.stored(settings, dbt_vars, figures, replaced)
            except accounting.AccountingError as exc:
                raise DbtRunError(str(exc)) from exc

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
        "raw_reads": reads,
        **({"accounting": figures} if figures is not None else {}),
        **({"reparsed": reparsed} if reparsed else {}),
    }
    logger.info("dbt run finished", extra={"record": record})
    return record
