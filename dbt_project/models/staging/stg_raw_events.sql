-- One row per usable raw event line of the run's interval, typed and named consistently.
-- Every other line (quarantined or held back) is in stg_raw_event_lines with its reason
-- (quarantined_events).
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
where disposition = 'accepted'
