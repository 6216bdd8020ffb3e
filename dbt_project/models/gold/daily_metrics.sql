{#- Matched across the whole table (one row per day: a trivial scan), not only the merge window:
    a run also recomputes the days that fct_events' merge moved an event out of (a redelivery
    whose first landing this run is), and those may lie outside its window. Hence no
    merge_window_column (its local check would refuse those rows) and no incremental_predicates
    (on Athena they would bound the match). A recomputed day left without events comes as a
    row of zeros, which deletes the day's row (delete_condition) and is never inserted
    (insert_condition): the table then has no row for it, as a full refresh would leave it. -#}
{{ config(
    unique_key='event_date',
    unique_across_table=true,
    delete_condition='src.events = 0',
    insert_condition='src.events > 0',
) }}

-- Daily business metrics, recomputed for every day of the run's merge window from the
-- complete fct_events partitions of those days, so late events update their day's figures;
-- and for every day fct_events' merge took an event from (fct_events_moves, read before that
-- merge), so an event that moved to its first landing's day is no longer counted on the other
-- day (whose row goes when nothing is left on it: see the config above).
{%- set moves = ref('fct_events_moves') %}
with moved_from as (
    {%- if flags.FULL_REFRESH %}
    -- a full refresh recomputes every day; this run's moves were not even looked for
    select cast(null as date) as event_date where 1 = 0
    {%- else %}
    select distinct from_event_date as event_date from {{ moves }}
    {%- endif %}
),

per_day as (
    select
        event_date,
        count(*) as events,
        count(distinct user_id) as active_users,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchases,
        count(distinct case when event_type = 'purchase' then user_id end) as purchasing_users,
        cast(coalesce(sum(case when event_type = 'purchase' then revenue end), 0) as decimal(18, 2))
            as revenue
    from {{ ref('fct_events') }}
    where ({{ in_merge_window('event_date') }})
        or event_date in (select event_date from moved_from)
    group by event_date
)

select event_date, events, active_users, purchases, purchasing_users, revenue
from per_day
union all
select
    event_date,
    cast(0 as bigint) as events,
    cast(0 as bigint) as active_users,
    cast(0 as bigint) as purchases,
    cast(0 as bigint) as purchasing_users,
    cast(0 as decimal(18, 2)) as revenue
from moved_from
where event_date not in (select event_date from per_day)
