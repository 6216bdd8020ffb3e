{{ config(severity='error', tags=['gate']) }}

{#- The bad-row gate: fails (one row per reason) when more than `max_bad_row_share` of the
    run's raw event lines (and unreadable objects) were quarantined as bad input. Held-back lines
    are valid events and duplicates are copies of an event that is kept (at-least-once
    delivery): neither counts as bad.

    The dbt-executor builds the marts with `dbt build`, selecting this test with them. It runs
    once quarantined_events has taken the bad lines (so the user can see why), and before
    fct_events and dim_users, which descend from both of its parents: dbt skips them, and what
    is built from them, when it fails, so those marts keep their previous snapshot. It reads the
    run's own parse (stg_raw_event_lines), never raw. -#}
{#- Validated against contracts/run_request.json before dbt runs (the run plan, the runtime). -#}
{%- set threshold = var('max_bad_row_share') | float %}

-- depends_on: {{ ref('quarantined_events') }}
with lines as (
    select case when disposition = 'quarantined' and reason not in ({{ gate_exempt_reasons() }})
        then reason end as reason
    from {{ ref('stg_raw_event_lines') }}
),

totals as (
    select count(*) as all_lines, count(reason) as bad_lines from lines
)

select
    lines.reason,
    count(*) as lines,
    max(totals.bad_lines) as bad_lines,
    max(totals.all_lines) as all_lines
from lines
cross join totals
where lines.reason is not null
  and totals.bad_lines > {{ threshold }} * totals.all_lines
group by lines.reason
