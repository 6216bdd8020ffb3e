-- One row per usable raw event line of the run's interval, typed and named consistently.
-- Lines that cannot be used are in stg_raw_event_lines with their reason (quarantined_events).
select
    event_id,
    user_id,
    event_type,
    event_ts,
    cast(event_ts as date) as event_date,
    revenue,
    properties,
    landed_on
from {{ ref('stg_raw_event_lines') }}
where reason is null
