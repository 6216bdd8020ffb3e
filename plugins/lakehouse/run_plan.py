"""What one DAG run works on: its interval, its execution name, the state machine's input.

Pure functions of the DAG run's context: nothing here reads a clock or calls AWS.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime

from lakehouse.run_record import TRANSFORM_STAGES
from lakehouse.run_request import DEFAULTS, InvalidRunRequest, validated

# Step Functions execution names: 1-80 characters of [A-Za-z0-9_-].
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX = 80
_TRY_SUFFIX_MAX = len("-t") + 4
# Athena writes at most 100 partitions per query (Iceberg: TOO_MANY_OPEN_PARTITIONS). A merge
# writes the partitions of its window: the interval's days plus the lookback.
MAX_PARTITIONS_PER_WRITE = 100
# The run options' defaults (contracts/run_request.json): lookback_days is applied by
# dbt_project/macros/merge_window.sql, max_bad_row_share by dbt_project/tests/bad_row_share.sql.
DEFAULT_LOOKBACK_DAYS: int = DEFAULTS["lookback_days"]
DEFAULT_MAX_BAD_ROW_SHARE: float = DEFAULTS["max_bad_row_share"]
# compute=auto: the dbt stages of a run over this many days or more, or of a full refresh, run
# as an ECS task. A week's merge or a rebuild of all history is what can outlast Lambda's 15
# minutes, and a stage killed at its timeout is paid for and still fails.
ECS_FROM_DAYS = 7
COMPUTES = ("lambda", "ecs")


class InvalidRunParams(InvalidRunRequest):
    """The run's params break the run request's schema or cannot describe a data interval."""


@dataclass(frozen=True)
class RunPlan:
    pipeline: str
    run_id: str
    interval_start: str  # YYYY-MM-DD, inclusive
    interval_end: str  # YYYY-MM-DD, exclusive
    full_refresh: bool
    execution_name_base: str
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    full_refresh_models: tuple[str, ...] = ()
    resume_from: str = TRANSFORM_STAGES[0]
    redrive_of: str | None = None
    max_bad_row_share: float = DEFAULT_MAX_BAD_ROW_SHARE
    # A redrive that resumes after staging: the failed execution's relations, reused.
    reuse_run_key: str | None = None
    # Where the dbt stages run: "lambda" or "ecs" (choose_compute), never "auto".
    compute: str = "lambda"

    def run_key(self, try_number: int) -> str:
        """The key of the relations this try's execution reads and writes
        (dbt_project/macros/run_scoped.sql): its own, unless it reuses a failed run's."""
        return self.reuse_run_key or run_key(self.run_id, try_number)

    def state_machine_input(self, try_number: int = 1) -> dict:
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "run_key": self.run_key(try_number),
            "interval": {"start": self.interval_start, "end": self.interval_end},
            "full_refresh": self.full_refresh,
            "full_refresh_models": list(self.full_refresh_models),
            "lookback_days": self.lookback_days,
            "max_bad_row_share": self.max_bad_row_share,
            "resume_from": self.resume_from,
            "compute": self.compute,
        }

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "full_refresh_models": list(self.full_refresh_models),
            "state_machine_input": self.state_machine_input(),
        }


def execution_name_base(run_id: str) -> str:
    """A readable, valid and unique execution name prefix for a DAG run id.

    The try number is appended per attempt (`-t<try>`): a finished execution's name cannot be
    reused for 90 days, and each Airflow retry must start a new execution.
    """
    readable = _UNSAFE.sub("-", run_id).strip("-") or "run"
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    room = _NAME_MAX - _TRY_SUFFIX_MAX - len(digest) - 1
    return f"{readable[:room]}-{digest}"


def run_key(run_id: str, try_number: int) -> str:
    """The key of one execution's own relations: a digest of the DAG run id and the try. Each
    try is an execution of its own, and an earlier try's execution may still be running (a
    start whose answer was lost), so no two executions ever share relations."""
    return f"r{hashlib.sha256(run_id.encode()).hexdigest()[:12]}t{try_number}"


def state_machine_input(plan: dict, try_number: int) -> dict:
    """The input of a try's execution, from the plan plan_run returned (as_dict): what the DAG's
    start_transform renders for its try."""
    reuse = plan.get("reuse_run_key")
    return {
        **plan["state_machine_input"],
        "run_key": reuse or run_key(plan["run_id"], int(try_number)),
    }


def execution_name(base: str, try_number: int) -> str:
    return f"{base}-t{try_number}"


def choose_compute(requested: str, days: int, full_refresh: bool) -> str:
    """Where the run's dbt stages run. An explicit lambda or ecs wins; auto takes ECS for a full
    refresh (every mart from every raw day) and for an interval of ECS_FROM_DAYS days or more.
    A rebuild of some marts (full_refresh_models) stays on Lambda unless asked: most are one
    mart of a few days' history, and the operator who knows it is large passes compute=ecs."""
    if requested in COMPUTES:
        return requested
    if requested != "auto":
        raise InvalidRunParams(f"compute must be one of auto, lambda, ecs, got {requested!r}")
    if full_refresh or days >= ECS_FROM_DAYS:
        return "ecs"
    return "lambda"


def _as_day(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidRunParams(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from exc


def _recorded_lookback(record: dict) -> int:
    # Records written before lookback_days existed ran with the default.
    value = record.get("lookback_days")
    return DEFAULT_LOOKBACK_DAYS if value is None else int(value)


def _recorded_max_bad_row_share(record: dict) -> float:
    # Records written before max_bad_row_share existed ran with the default.
    value = record.get("max_bad_row_share")
    return DEFAULT_MAX_BAD_ROW_SHARE if value is None else float(value)


def redrive_plan(pipeline: str, run_id: str, failed: dict | None, redrive_of: str) -> RunPlan:
    """A run that repeats a failed run's transform from the stage that failed.

    `failed` is that run's ledger record. Same interval and options; stages it completed are
    not run again. (Step Functions' own RedriveExecution cannot do this here: the failure path
    records and alerts, then ends in a Fail state, which is what a redrive would restart.)
    """
    if failed is None:
        raise InvalidRunParams(f"redrive_of: run {redrive_of!r} is not in the run ledger")
    if failed.get("status") != "FAILED":
        raise InvalidRunParams(
            f"redrive_of: run {redrive_of!r} is {failed.get('status')}, only FAILED runs redrive"
        )
    stage = failed.get("failed_stage")
    interval_days = (
        _as_day(failed["interval_end"], "interval_end")
        - _as_day(failed["interval_start"], "interval_start")
    ).days
    # The failed run's compute, unless it was recorded before compute existed (then as auto
    # would choose). A stage that timed out on Lambda needs compute=ecs on a new run instead.
    compute = failed.get("compute")
    if compute not in COMPUTES:
        compute = choose_compute("auto", interval_days, bool(failed.get("full_refresh")))
    # A failure before the state machine (crawler, an Airflow task) redoes all of it.
    resume_from = stage if stage in TRANSFORM_STAGES else TRANSFORM_STAGES[0]
    return RunPlan(
        pipeline=pipeline,
        run_id=run_id,
        interval_start=failed["interval_start"],
        interval_end=failed["interval_end"],
        full_refresh=bool(failed.get("full_refresh")),
        execution_name_base=execution_name_base(run_id),
        lookback_days=_recorded_lookback(failed),
        max_bad_row_share=_recorded_max_bad_row_share(failed),
        full_refresh_models=tuple(failed.get("full_refresh_models") or ()),
        resume_from=resume_from,
        redrive_of=redrive_of,
        # Resuming after staging reads the failed execution's parse of its raw data (kept
        # because it failed; the state machine records each execution's key in the ledger);
        # starting over parses again, into relations of its own. Without a recorded key the
        # marts stage parses again (it finds no parse to reuse).
        reuse_run_key=failed.get("run_key") if resume_from != TRANSFORM_STAGES[0] else None,
        compute=compute,
    )


def plan_run(
    pipeline: str,
    run_id: str,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    params: dict,
    arrived_days: list[date] | None = None,
) -> RunPlan:
    """The interval is the DAG run's data interval, in days, unless params override it.

    An on-arrival run (asset-triggered: no data interval) passes `arrived_days`, the days its
    triggering S3 events' files belong to (lakehouse.arrivals): its interval runs from the
    first to the last of them, so one run covers every day that received files.
    """
    try:
        params = validated(params)
    except InvalidRunRequest as error:
        raise InvalidRunParams(str(error)) from None
    start_param, end_param = params["interval_start"], params["interval_end"]
    if bool(start_param) != bool(end_param):
        raise InvalidRunParams("set both interval_start and interval_end, or neither")
    if start_param:
        start = _as_day(start_param, "interval_start")
        end = _as_day(end_param, "interval_end")
    elif arrived_days is not None:
        if not arrived_days:
            raise InvalidRunParams("the triggering asset events name no raw file of a day")
        start = min(arrived_days)
        end = date.fromordinal(max(arrived_days).toordinal() + 1)
    elif data_interval_start is None or data_interval_end is None:
        raise InvalidRunParams(
            "this run has no data interval (triggered without a logical date): "
            "set the interval_start and interval_end params"
        )
    else:
        start = _as_day(data_interval_start, "data_interval_start")
        end = _as_day(data_interval_end, "data_interval_end")
        if end == start:  # a manual run with an empty interval: take its logical day
            end = date.fromordinal(start.toordinal() + 1)
    if end <= start:
        raise InvalidRunParams(f"interval_end ({end}) must be after interval_start ({start})")
    full_refresh = params["full_refresh"]
    lookback = params["lookback_days"]
    window_days = (end - start).days + lookback
    # A full refresh replaces tables (dbt-athena batches CTAS over 100 partitions itself); every
    # other run merges, and one merge must stay within Athena's partition limit.
    if not full_refresh and window_days > MAX_PARTITIONS_PER_WRITE:
        raise InvalidRunParams(
            f"{(end - start).days} days plus a {lookback}-day lookback would merge "
            f"{window_days} partitions in one Athena query (limit {MAX_PARTITIONS_PER_WRITE}): "
            "backfill the range instead, one run per day (docs/runbooks.md)"
        )
    return RunPlan(
        pipeline=pipeline,
        run_id=run_id,
        interval_start=start.isoformat(),
        interval_end=end.isoformat(),
        full_refresh=full_refresh,
        execution_name_base=execution_name_base(run_id),
        lookback_days=lookback,
        full_refresh_models=tuple(sorted(set(params["full_refresh_models"]))),
        max_bad_row_share=float(params["max_bad_row_share"]),
        compute=choose_compute(params["compute"], (end - start).days, full_refresh),
    )
