"""The day a run is for, and the runs of a day: how operators address runs.

**The day a run is for** is the first day of the interval its plan computed
(`run_plan.plan_run`: the DAG run's data interval in days, or the `interval_start`/
`interval_end` params), stored in the run ledger as `interval_start`. Airflow's logical dates
do not agree on it: a scheduled or backfill run of day D has logical date D 06:00 and a run id
naming D+1 06:00 (its `run_after`, the end of its data interval); a run triggered with a
logical date processes the interval that *ended* at that date; a run triggered without one has
none. The ledger's interval is the one fact every kind of run records the same way, so every
command that takes a day reads it there.

Pure functions of ledger records: no clock, no AWS, no Airflow.
"""

from __future__ import annotations

from datetime import date, timedelta


class NoRunForDay(LookupError):
    """The run ledger holds no run whose interval starts on the day asked for."""


class NotRedrivable(ValueError):
    """The run asked for cannot be redriven (not in the ledger, or not FAILED)."""


def as_day(text: str | date) -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"not a day (YYYY-MM-DD): {text!r}") from None


def day_of(record: dict) -> date | None:
    """The day a run is for: the first day of its interval (None for a record without one)."""
    start = record.get("interval_start")
    return date.fromisoformat(start) if start else None


def runs_for_day(records: list[dict], day: date) -> list[dict]:
    """The records whose run is for `day`, newest first (by the ledger's started_at)."""
    found = [r for r in records if day_of(r) == day]
    return sorted(found, key=lambda r: r.get("started_at") or "", reverse=True)


def run_for_day(records: list[dict], day: date) -> dict:
    """The latest run for `day`: the one a rerun of the day repeats."""
    found = runs_for_day(records, day)
    if found:
        return found[0]
    days = sorted({d for d in map(day_of, records) if d})
    near = ", ".join(str(d) for d in days[-5:]) or "none"
    raise NoRunForDay(
        f"no run for day {day} in the run ledger (a run is for the first day of its interval; "
        f"latest days with runs: {near}). A day never run yet: backfill {day} {day}"
    )


def redrivable(record: dict | None, run_id: str) -> dict:
    """The failed run's record, or why it cannot be redriven (the DAG's plan_run checks the
    same when the redrive runs; checking first lets the command refuse before triggering)."""
    if record is None:
        raise NotRedrivable(f"run {run_id!r} is not in the run ledger")
    if record.get("status") != "FAILED":
        raise NotRedrivable(
            f"run {run_id!r} (day {day_of(record)}) is {record.get('status')}: "
            "only FAILED runs redrive; rerun its day instead"
        )
    return record


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def interval_params(day: date) -> dict:
    """The DAG params of a manual run for `day` alone (what a run without a logical date must
    pass: docs/runbooks.md)."""
    end = day + timedelta(days=1)
    return {"interval_start": day.isoformat(), "interval_end": end.isoformat()}


def days_to_backfill(records: list[dict], days: list[date]) -> tuple[list[date], dict]:
    """The days of a backfill that still need a run, and the latest run of each day skipped.

    A day is skipped when its latest run succeeded or is still running, as Airflow's backfill
    does with `--reprocess-behavior failed`: a failed or missing day is run again, a done one
    is not rebuilt."""
    todo, skipped = [], {}
    for day in days:
        found = runs_for_day(records, day)
        if found and found[0].get("status") in ("SUCCEEDED", "RUNNING"):
            skipped[day] = found[0]
        else:
            todo.append(day)
    return todo, skipped
