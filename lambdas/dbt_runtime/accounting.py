"""Every raw line accounted for: per landing day, delivered = accepted + quarantined + held back.

`delivered` is counted from the raw bytes by dbt_runtime.raw_inputs, independently of the SQL;
the rest is read back from where the run wrote it. Two checks, each failing the run with a
readable cause when the numbers do not add up:
- after staging (before any mart changes): every delivered line is one row of the run's parse,
  and every unreadable object one quarantine row;
- after the marts: every accepted line's event is in fct_events, from its landing day or, for
  a redelivery, from an earlier one (the first landing wins; such lines are counted as
  `redelivered`), and every quarantined or held-back line (and unreadable object) is a row of
  quarantined_events.
The per-day figures go into the stage record (the run ledger), where `runs show` prints them.
"""

from __future__ import annotations

from dbt_runtime import dbt_invocation
from dbt_runtime.settings import Settings

# The parse of each raw table: events and the users export.
PARSES = {"events": "stg_raw_event_lines", "users": "stg_raw_user_lines"}

# One row per landing day, disposition and reason: the day's figures and its quarantine by
# reason come from the same scan of the parse.
STAGED_SQL = """
select
    '{table}' as raw_table,
    cast(cast(landed_on as date) as varchar) as landed_on,
    disposition,
    coalesce(reason, '') as reason,
    count(*) as parsed_lines
from {{{{ ref('{model}') }}}}
group by 2, 3, 4
"""

STORED_SQL = """
with accepted as (
    select cast(landed_on as date) as landed_on, event_id
    from {{ ref('stg_raw_event_lines') }}
    where disposition = 'accepted'
),
in_facts as (
    select
        'events' as raw_table,
        accepted.landed_on,
        sum(case when cast(facts.landed_on as date) = accepted.landed_on then 1 else 0 end)
            as in_facts,
        sum(case when cast(facts.landed_on as date) < accepted.landed_on then 1 else 0 end)
            as redelivered,
        0 as in_quarantine
    from accepted
    join {{ ref('fct_events') }} as facts
        on facts.event_id = accepted.event_id
        and cast(facts.landed_on as date) <= accepted.landed_on
    group by 2
),
in_quarantine as (
    select
        raw_table, cast(landed_on as date) as landed_on, 0 as in_facts, 0 as redelivered,
        count(*) as in_quarantine
    from {{ ref('quarantined_events') }}
    group by 1, 2
)
select
    raw_table, cast(landed_on as varchar) as landed_on,
    sum(in_facts), sum(redelivered), sum(in_quarantine)
from (select * from in_facts union all select * from in_quarantine) as found
group by 1, 2
"""

_FIELDS = ("lines", "unreadable_objects", "accepted", "quarantined", "held_back")
UNREADABLE = "unreadable_file"  # the parse's reason for an object it could not read


class AccountingError(RuntimeError):
    """The run's raw lines do not add up."""


def staged(settings: Settings, dbt_vars: dict, delivered: dict[str, dict]) -> dict[str, dict]:
    """Per raw table and landing day, what the run's parse made of the delivered lines; raises
    AccountingError when a delivered line or unreadable object has no row in the parse."""
    sql = "\nunion all\n".join(
        STAGED_SQL.format(table=table, model=model) for table, model in PARSES.items()
    )
    parsed: dict[str, dict] = {}
    for table, day, disposition, reason, n in dbt_invocation.show(
        settings, sql, dbt_vars, limit=100_000
    ):
        got = parsed.setdefault(str(table), {}).setdefault(str(day), _empty())
        n = _count(n)
        if reason == UNREADABLE:  # one row per object that could not be read, not a line
            got["unreadable_objects"] += n
        else:
            got["lines"] += n
            got[str(disposition)] += n
        if disposition != "accepted":
            got["reasons"][str(reason)] = got["reasons"].get(str(reason), 0) + n
    figures: dict[str, dict] = {}
    problems = []
    for table in PARSES:
        sent_days, got_days = delivered.get(table, {}), parsed.get(table, {})
        for day in sorted(set(sent_days) | set(got_days)):
            sent = sent_days.get(day, {"lines": 0, "unreadable_objects": 0})
            got = got_days.get(day, _empty())
            figures.setdefault(table, {})[day] = {
                "delivered": sent["lines"],
                "unreadable_objects": sent["unreadable_objects"],
                "accepted": got["accepted"],
                "quarantined": got["quarantined"],
                "held_back": got["held_back"],
                # The rows of quarantined_events by reason (unreadable objects included).
                "reasons": dict(sorted(got["reasons"].items())),
            }
            if got["lines"] != sent["lines"]:
                problems.append(
                    f"{table} landing day {day}: the raw objects deliver {sent['lines']} line(s) "
                    f"but the parse has {got['lines']} (accepted {got['accepted']}, quarantined "
                    f"{got['quarantined']}, held back {got['held_back']}); raw objects that landed "
                    "during the run count too"
                )
            if got["unreadable_objects"] != sent["unreadable_objects"]:
                problems.append(
                    f"{table} landing day {day}: {sent['unreadable_objects']} unreadable "
                    f"object(s) but {got['unreadable_objects']} quarantine row(s) for them"
                )
    if problems:
        raise AccountingError(_cause(problems))
    return figures


def stored(
    settings: Settings, dbt_vars: dict, figures: dict[str, dict], quarantine_days=None
) -> dict[str, dict]:
    """Check the staged figures against what the marts now hold; raises AccountingError.
    Returns the figures with, per events landing day, `redelivered`: the accepted lines whose
    event fct_events holds from an earlier landing day (when the redelivery's run merged
    first, the first landing's run later takes the event over: the figure is the state when
    this run ended). `quarantine_days`: the landing days whose quarantine this run replaced
    (all when None): a run that parsed every day to rebuild some marts replaces only its
    interval's."""
    found = {
        (str(row[0]), str(row[1])): (_count(row[2]), _count(row[3]), _count(row[4]))
        for row in dbt_invocation.show(settings, STORED_SQL, dbt_vars, limit=100_000)
    }
    problems = []
    checked: dict[str, dict] = {}
    for table, days in figures.items():
        for day, counts in days.items():
            in_facts, redelivered, in_quarantine = found.get((table, day), (0, 0, 0))
            checked.setdefault(table, {})[day] = (
                {**counts, "redelivered": redelivered} if table == "events" else dict(counts)
            )
            not_accepted = sum(
                counts[k] for k in ("quarantined", "held_back", "unreadable_objects")
            )
            if table == "events" and in_facts + redelivered != counts["accepted"]:
                problems.append(
                    f"events landing day {day}: {counts['accepted']} accepted line(s) but "
                    f"{in_facts + redelivered} of their events are in fct_events from that "
                    "landing day or an earlier one"
                )
            replaced = quarantine_days is None or day in quarantine_days
            if replaced and in_quarantine != not_accepted:
                problems.append(
                    f"{table} landing day {day}: {not_accepted} line(s) and object(s) "
                    f"quarantined or held back but quarantined_events has {in_quarantine} "
                    "row(s) for them"
                )
    if problems:
        raise AccountingError(_cause(problems))
    return checked


def _empty() -> dict:
    return {**dict.fromkeys(_FIELDS, 0), "reasons": {}}


def _count(value) -> int:
    return int(value or 0)


def _cause(problems: list[str]) -> str:
    return (
        "The raw lines do not add up (delivered = accepted + quarantined + held back): "
        + "; ".join(problems)
        + ". Nothing is lost from raw (it is never changed): see the stage record's accounting, "
        "then rerun the day; report the file if it repeats."
    )
