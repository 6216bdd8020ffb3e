{{ config(unique_key='event_id', partitioned_by=['event_date']) }}

-- One row per event. Merged on event_id, so a redelivered event replaces itself instead of
-- being counted twice.
with ranked as (
    select
        *,
        row_number() over (partition by event_id order by event_ts, landed_on) as occurrence
    from {{ ref('stg_raw_events') }}
)

select
    event_id,
    user_id,
    event_type,
    event_ts,
    revenue,
    properties,
    event_date
from ranked
where occurrence = 1
