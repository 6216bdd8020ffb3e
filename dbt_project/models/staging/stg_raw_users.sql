-- The users exported in the run's interval (one line per user changed that day), typed.
with source as (
    select * from {{ raw_source('users') }}
    where dt >= '{{ var("interval_start") }}' and dt < '{{ var("interval_end") }}'
)

select
    cast(user_id as varchar) as user_id,
    lower(email) as email,
    upper(country) as country,
    lower(plan) as plan,
    {{ parse_iso_timestamp('signed_up_at') }} as signed_up_at,
    {{ parse_iso_timestamp('updated_at') }} as updated_at,
    dt as landed_on
from source
