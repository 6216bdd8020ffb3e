{#- One row per event_id in the whole table, forever: the merge matches event_id across every
    partition (`unique_across_table`), not only the run's merge window, because a redelivered
    event may be stamped on a day outside it. The rows a run writes still lie in its window
    (`merge_window_column`, checked locally); a replaced row elsewhere is removed in the same
    commit locally (its partition rewritten), updated in place by Athena's MERGE (moved to its
    new event_date partition). Deliberately no incremental_predicates: on Athena they would
    bound the MERGE's match to the window. Cost: each run scans event_id, landed_on and
    event_date of the whole table (Athena bills those columns' bytes), not only its window. -#}
{{ config(
    unique_key='event_id',
    partitioned_by=['event_date'],
    merge_window_column='event_date',
    unique_across_table=true,
    update_condition='src.landed_on <= target.landed_on',
) }}

-- Built after the quarantine rows are written and the bad-row gate has passed: the gate
-- (tests/bad_row_share.sql) depends on these two, so dbt build skips this model when it fails.
-- depends_on: {{ ref('quarantined_events') }}
-- depends_on: {{ ref('stg_raw_event_lines') }}
-- Which rows this merge will move to another day, read before it (daily_metrics recomputes
-- those days too):
-- depends_on: {{ ref('fct_events_moves') }}

-- One row per event, in the day it happened. A redelivered event keeps its first landing:
-- within a run by the ranking below, across runs by the merge's update_condition (matched
-- across the whole table), so reruns and backfills in any order end with the same row.
with accepted as (
    select *
    from {{ ref('stg_raw_events') }}
    where {{ within_lookback('event_date', 'landed_on') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by landed_on, event_ts, user_id, event_type, revenue, properties
        ) as occurrence
    from accepted
)

select
    event_id,
    user_id,
    event_type,
    event_ts,
    revenue,
    properties,
    event_date,
    landed_on
from ranked
where occurrence = 1
