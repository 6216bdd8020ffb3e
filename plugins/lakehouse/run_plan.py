"""What one DAG run works on: its interval, its execution name, the state machine's input.

Pure functions of the DAG run's context: nothing here reads a clock or calls AWS.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime

# Step Functions execution names: 1-80 characters of [A-Za-z0-9_-].
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX = 80
_TRY_SUFFIX_MAX = len("-t") + 4


class InvalidRunParams(ValueError):
    """The run's params cannot describe a data interval."""


@dataclass(frozen=True)
class RunPlan:
    pipeline: str
    run_id: str
    interval_start: str  # YYYY-MM-DD, inclusive
    interval_end: str  # YYYY-MM-DD, exclusive
    full_refresh: bool
    execution_name_base: str

    def state_machine_input(self) -> dict:
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "interval": {"start": self.interval_start, "end": self.interval_end},
            "full_refresh": self.full_refresh,
        }

    def as_dict(self) -> dict:
        return {**asdict(self), "state_machine_input": self.state_machine_input()}


def execution_name_base(run_id: str) -> str:
    """A readable, valid and unique execution name prefix for a DAG run id.

    The try number is appended per attempt (`-t<try>`): a finished execution's name cannot be
    reused for 90 days, and each Airflow retry must start a new execution.
    """
    readable = _UNSAFE.sub("-", run_id).strip("-") or "run"
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:8]
    room = _NAME_MAX - _TRY_SUFFIX_MAX - len(digest) - 1
    return f"{readable[:room]}-{digest}"


def execution_name(base: str, try_number: int) -> str:
    return f"{base}-t{try_number}"


def _as_day(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidRunParams(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from exc


def plan_run(
    pipeline: str,
    run_id: str,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    params: dict,
) -> RunPlan:
    """The interval is the DAG run's data interval, in days, unless params override it."""
    start_param, end_param = params.get("interval_start"), params.get("interval_end")
    if bool(start_param) != bool(end_param):
        raise InvalidRunParams("set both interval_start and interval_end, or neither")
    if start_param:
        start = _as_day(start_param, "interval_start")
        end = _as_day(end_param, "interval_end")
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
    return RunPlan(
        pipeline=pipeline,
        run_id=run_id,
        interval_start=start.isoformat(),
        interval_end=end.isoformat(),
        full_refresh=bool(params.get("full_refresh", False)),
        execution_name_base=execution_name_base(run_id),
    )
