{{ config(unique_key='user_id') }}

-- The latest known attributes of every user, merged on user_id.
with ranked as (
    select
        *,
        row_number() over (partition by user_id order by updated_at desc, landed_on desc) as recency
    from {{ ref('stg_raw_users') }}
)

select
    user_id,
    email,
    country,
    plan,
    signed_up_at,
    updated_at
from ranked
where recency = 1
