"""dbt-executor Lambda: `dbt run` for one layer (staging or marts) over the run's interval.

Event: {"stage": "dbt_staging", "select": "staging"|"marts", "run_id": "...",
        "interval": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, "full_refresh": false}
Returns the stage record that the state machine stores in the run ledger. Raises DbtRunError
(the Step Functions error name) when any model fails, with dbt's message as the cause.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from dbt_runtime import dbt_invocation
from dbt_runtime.dbt_invocation import Interval, InvalidEvent, utc_now
from dbt_runtime.row_counts import count_rows
from dbt_runtime.settings import Settings

logger = Logger()
SELECTABLE = {"staging": "path:models/staging", "marts": "path:models/marts"}


class DbtRunError(RuntimeError):
    """One or more dbt models failed."""


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    settings = Settings.from_env()
    interval = Interval.from_event(event)
    layer = event.get("select")
    if layer not in SELECTABLE:
        raise InvalidEvent(f"event.select must be one of {sorted(SELECTABLE)}, got {layer!r}")
    logger.append_keys(run_id=event.get("run_id"), stage=event.get("stage"), layer=layer)
    started_at = utc_now()
    outcome = dbt_invocation.run(
        settings,
        ["run", "--select", SELECTABLE[layer]],
        dbt_invocation.dbt_vars(settings, event, interval),
        full_refresh=bool(event.get("full_refresh")),
    )
    if not outcome.results and outcome.exception:
        raise DbtRunError(f"dbt run could not start: {outcome.exception}")

    models = []
    uncounted = []
    for result in outcome.results:
        node = outcome.manifest_nodes.get(result["unique_id"], {})
        rows = (result.get("adapter_response") or {}).get("rows_affected")
        relation = node.get("relation_name")
        if (rows is None or rows < 0) and result["status"] == "success" and relation:
            uncounted.append(relation)
        models.append(
            {
                "name": node.get("name", result["unique_id"].split(".")[-1]),
                "relation": relation,
                "materialized": (node.get("config") or {}).get("materialized"),
                "status": result["status"],
                "rows": rows if rows is not None and rows >= 0 else None,
                "duration_s": round(result.get("execution_time") or 0.0, 3),
                "message": result.get("message"),
            }
        )
    counted = count_rows(settings, uncounted)
    for model in models:
        if model["rows"] is None and model["relation"] in counted:
            model["rows"] = counted[model["relation"]]

    failed = [m for m in models if m["status"] not in ("success", "skipped")]
    record = {
        "stage": event.get("stage", f"dbt_{layer}"),
        "status": "FAILED" if failed or not outcome.success else "SUCCEEDED",
        "started_at": started_at,
        "ended_at": utc_now(),
        "duration_s": round(outcome.elapsed_s, 3),
        "invocation_id": outcome.invocation_id,
        "target": settings.target,
        "models": models,
    }
    logger.info("dbt run finished", extra={"record": record})
    if failed:
        details = "; ".join(f"{m['name']}: {m['message']}" for m in failed)
        raise DbtRunError(f"{len(failed)} of {len(models)} dbt model(s) failed: {details}")
    if not outcome.success:
        raise DbtRunError(f"dbt run failed: {outcome.exception or 'see the function logs'}")
    return record
