"""One run at a time merges into the marts: a lease in the run ledger (dbt_runtime.lease).

Runs of different intervals parse their raw data at the same time (each into relations of its
own), but their merge windows may overlap, and a mart built from another (daily_metrics from
fct_events) is only right when no other run's merge lands between its read and its commit; on
Athena dbt-athena's temporary relations (`<model>__dbt_tmp`) would collide too. So the marts
stage of a run holds this lease for as long as it merges. A run that finds it taken raises
MartsLockBusy at once, before dbt starts: the state machine retries the stage later.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dbt_runtime import lease
from dbt_runtime.settings import Settings

LOCK_NAME = "marts"
MARGIN_S = lease.MARGIN_S


class MartsLockBusy(RuntimeError):
    """Another run is merging into the marts. The state machine retries this error name."""


def _busy(other: str, held_s: float) -> MartsLockBusy:
    return MartsLockBusy(
        f"run {other} has been merging into the marts for {held_s:.0f} s; "
        "this run's marts stage starts when it ends"
    )


@contextmanager
def held(settings: Settings, pipeline: str, holder: str, lease_s: float) -> Iterator[None]:
    """Hold the marts lease for `holder` (a run id and its execution's run key) while the
    block runs; the same holder may take it again (a retried invocation)."""
    table = lease.Table(settings.runs_table, settings.endpoint_url, settings.region)
    with lease.held(table, pipeline, LOCK_NAME, holder, lease_s, _busy, margin_s=MARGIN_S):
        yield
