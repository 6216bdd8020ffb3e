{{ config(
    unique_key='event_date',
    merge_window_column='event_date',
    incremental_predicates=merge_window_predicates('target.event_date'),
) }}

-- Daily business metrics, recomputed for every day of the run's merge window from the
-- complete fct_events partitions of those days, so late events update their day's figures.
select
    event_date,
    count(*) as events,
    count(distinct user_id) as active_users,
    sum(case when event_type = 'purchase' then 1 else 0 end) as purchases,
    count(distinct case when event_type = 'purchase' then user_id end) as purchasing_users,
    cast(coalesce(sum(case when event_type = 'purchase' then revenue end), 0) as decimal(18, 2))
        as revenue
from {{ ref('fct_events') }}
where {{ in_merge_window('event_date') }}
group by event_date
