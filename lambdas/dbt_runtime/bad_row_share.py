"""The cause a run gets when the bad-row gate (dbt_project/tests/bad_row_share.sql) fails.

dbt reports a failing test as "Got N results"; the run ledger and the alert need what was bad,
how much of it, and what to do. The counts are read back from the run's own parse.
"""

from __future__ import annotations

from dbt_runtime import dbt_invocation
from dbt_runtime.dbt_invocation import Interval
from dbt_runtime.settings import Settings

COUNTS_SQL = (
    "select case when disposition = 'quarantined' and reason not in ({{ gate_exempt_reasons() }})"
    " then reason else '' end as reason, count(*) as lines"
    " from {{ ref('stg_raw_event_lines') }} group by 1 order by 2 desc, 1"
)


def failure_cause(
    settings: Settings, dbt_vars: dict, interval: Interval, full_refresh: bool = False
) -> str:
    counts = dbt_invocation.show(settings, COUNTS_SQL, dbt_vars)
    total = sum(int(lines) for _, lines in counts)
    by_reason = [(reason, int(lines)) for reason, lines in counts if reason]
    bad = sum(lines for _, lines in by_reason)
    share = bad / total if total else 0.0
    threshold = dbt_vars.get("max_bad_row_share", "the project's default")
    days = (
        "every raw day"
        if full_refresh
        else f"{interval.start.isoformat()} to {interval.end.isoformat()} (end exclusive)"
    )
    reasons = ", ".join(f"{reason}={lines}" for reason, lines in by_reason)
    return (
        f"Too many bad raw event lines: {bad} of {total} (share {share:.4f}) exceed "
        f"max_bad_row_share {threshold} for landing days {days}; by reason: {reasons}. "
        "The marts were not changed. The lines are in quarantined_events (reason, source_file, "
        "line_number, detail, raw_line; see docs/runbooks.md, 'Inspect quarantined rows'): fix "
        "the raw files and rerun the day, or rerun it with a higher max_bad_row_share."
    )
