{{ config(
    unique_key='quarantine_id',
    partitioned_by=['landed_on'],
    merge_window_column='landed_on',
    incremental_predicates=merge_window_predicates('target.landed_on'),
    replace_landing_days='landed_on',
    pre_hook="{{ replace_landing_days() }}",
) }}

-- Every raw event line of the run's interval that is not accepted, with why (see
-- stg_raw_event_lines): `disposition` quarantined (bad input) or held_back (a valid event a
-- rule keeps out until the day is rerun with a wider setting). The run's landing days are replaced, not merged into
-- (macros/replace_landing_days.sql): a rerun writes exactly the lines the raw data of those
-- days now holds that cannot be used, so a fixed file leaves no stale row behind; the rows a
-- run writes are the lines it quarantined.
-- The users export's lines are validated the same way (stg_raw_user_lines): `raw_table` says
-- which export a row is from.
with not_accepted as (
    select 'events' as raw_table, landed_on, source_file, line_number, line, line_bytes,
           disposition, reason, detail
    from {{ ref('stg_raw_event_lines') }}
    where reason is not null
    union all
    select 'users' as raw_table, landed_on, source_file, line_number, line, line_bytes,
           disposition, reason, detail
    from {{ ref('stg_raw_user_lines') }}
    where reason is not null
),

bad as (
    select
        *,
        -- Athena gives no line numbers: identical lines of one file are told apart by order.
        row_number() over (
            partition by source_file, line_number, line order by landed_on
        ) as copy_in_file
    from not_accepted
    where {{ in_replaced_landing_days('landed_on') }}
)

select
    {{ text_hash(
        "source_file || '|' || coalesce(cast(line_number as varchar), '') || '|' || coalesce(line, '')"
        ~ " || '|' || cast(copy_in_file as varchar)") }} as quarantine_id,
    cast(landed_on as date) as landed_on,
    raw_table,
    source_file,
    line_number,
    disposition,
    reason,
    substr(detail, 1, 1000) as detail,
    substr(line, 1, {{ var('quarantine_line_chars') }}) as raw_line,
    line_bytes,
    {{ sql_string(var("run_id")) }} as run_id,
    {{ sql_string(invocation_id) }} as invocation_id
from bad
