-- The users exported during the run's interval, typed: one row per user, their latest export
-- (a user changed on several days of the interval appears in several daily exports).
-- A table of the run (run-scoped): the export is read once; dim_users and the tests read this.
{{ config(materialized='table', table_type='iceberg', format='parquet') }}
with source as (
    select * from {{ raw_source('users') }}
    where {{ raw_partition_filter() }}
),

typed as (
    select
        cast(user_id as varchar) as user_id,
        lower(email) as email,
        upper(country) as country,
        lower(plan) as plan,
        {{ parse_iso_timestamp('signed_up_at') }} as signed_up_at,
        {{ parse_iso_timestamp('updated_at') }} as updated_at,
        dt as landed_on
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id order by updated_at desc, landed_on desc
        ) as recency
    from typed
)

select user_id, email, country, plan, signed_up_at, updated_at, landed_on
from ranked
where recency = 1
