-- One row per raw event line of the run's interval, typed and named consistently.
with source as (
    select * from {{ raw_source('events') }}
    where {{ raw_partition_filter() }}
)

select
    cast(event_id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    lower(event_type) as event_type,
    {{ parse_iso_timestamp('event_ts') }} as event_ts,
    cast({{ parse_iso_timestamp('event_ts') }} as date) as event_date,
    cast(revenue as decimal(12, 2)) as revenue,
    {{ json_text('properties') }} as properties,
    dt as landed_on
from source
