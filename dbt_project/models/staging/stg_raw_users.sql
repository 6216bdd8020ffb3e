-- The users exported during the run's interval, typed: one row per user, their latest export
-- (a user changed on several days of the interval appears in several daily exports). Lines
-- that cannot be used are in stg_raw_user_lines with their reason (quarantined_events).
with accepted as (
    select user_id, email, country, plan, signed_up_at, updated_at, landed_on
    from {{ ref('stg_raw_user_lines') }}
    where disposition = 'accepted'
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id order by updated_at desc, landed_on desc
        ) as recency
    from accepted
)

select user_id, email, country, plan, signed_up_at, updated_at, landed_on
from ranked
where recency = 1
