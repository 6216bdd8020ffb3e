{#- Every raw event line of the run's interval, parsed and validated, and every raw object that
    could not be read as lines. Each is exactly one of (`disposition`):
      accepted     usable: stg_raw_events, merged into fct_events;
      quarantined  bad input, with a `reason` (counted by the bad-row gate);
      held_back    a valid event that a rule the user can change keeps out of the marts.
    Both of the latter are rows of quarantined_events. Which members of a line are read, which
    are required and what type each has is the landing schema's (contracts/sources.json
    `datasets.events`, macros/landing_schema.sql); the reasons below describe it as declared.
    The first failing check names the reason:
      unreadable_file        an object that is not text lines: compressed, or hidden from Athena
                             (a name starting with _ or .); one row for the whole object
      invalid_encoding       the line holds bytes that are not UTF-8 (or U+FFFD, which is what
                             Athena reads such bytes as); only that line
      oversized_record       longer than max_record_bytes
      malformed_json         not a JSON object (RFC 8259: no trailing commas, no NaN/Infinity),
                             truncated (e.g. a file cut short), or blank
      missing_required_field event_id, event_type or event_ts missing, null or empty;
                             user_id missing or empty
      null_user_id           user_id present but null
      wrong_type             a field of the wrong JSON type, event_ts not an ISO-8601 time
                             (the profile of macros/raw_json.sql: iso_timestamp_pattern),
                             properties not an object
      invalid_value          revenue negative, with more than two decimals (cents), or too
                             large for decimal(12, 2): never rounded
      unknown_event_type     event_type not in the `event_types` var
      event_ts_out_of_range  before min_event_ts
      duplicate_event_id     an event_id of another usable line of the same landing day: one
                             line is kept, the one of the first file name, then line text
                             (byte order)
    held back:
      outside_lookback       stamped more than lookback_days before its landing day (rerun the
                             day with a larger lookback_days to merge it)
      stamped_after_landing  stamped more than max_future_days after its landing day (raise the
                             var max_future_days and rerun the day to merge it)
    A redelivery (an event_id landing again on a later day) is accepted: fct_events keeps the
    first landing (its merge's update_condition, matched across the whole table), and the
    marts' accounting counts the line as `redelivered`. Deciding that here, from fct_events,
    would depend on which run merged first: runs of different days may run at once, and a
    later landing's run may merge before the first landing's. So this parse is a function of
    the interval's raw data alone.
    A UTF-8 byte-order mark starting a line is not part of it. Fields nobody asked for are
    ignored (they stay in the raw line).

    A table of the run (run-scoped, macros/run_scoped.sql): the raw files of the interval are
    read once, here, and every model and test downstream reads this result. Being written once
    also makes the choice among duplicates a single decision that every consumer sees; it uses
    no line number, which Athena does not have, so both engines keep the same line. -#}
{{ config(materialized='table', table_type='iceberg', format='parquet') }}
{%- set fields = landing_fields('events') -%}
{%- set required = fields | selectattr('required') | list -%}
{%- set revenue_type = landing_sql_type(landing_field('events', 'revenue')) -%}
{%- set event_types = accepted_event_types() -%}
with strict as {{ raw_documents('events') }},

fields as (
    select
        *,
        {{- landing_field_columns(fields) }}
    from strict
),

typed as (
    select
        *,
        lower(event_type_text) as event_type
        {{- landing_typed_columns(fields) }}
    from fields
),

classified as (
    select
        *,
        case
            {{ raw_line_problems() }}
            {{- landing_field_problems(fields) }}
            when event_type not in ('{{ event_types | join("', '") }}') then 'unknown_event_type'
            when event_ts < timestamp '{{ var("min_event_ts") }}' then 'event_ts_out_of_range'
            when cast(event_ts as date) < {{ add_days('cast(landed_on as date)', -lookback_days()) }}
                then 'outside_lookback'
            when cast(event_ts as date) > {{ add_days('cast(landed_on as date)', max_future_days()) }}
                then 'stamped_after_landing'
        end as reason
    from typed
),

described as (
    select
        *,
        case reason
            {{ raw_line_problem_details() }}
            {#- Fields that are null list after the missing ones (a null of a field with a
                null_reason is not missing); then the empty ones. #}
            when 'missing_required_field' then
                'missing or null: ' || concat_ws(', '
                    {%- for field in required if not field.null_reason %},
                    case when {{ field.name }}_kind in ('missing', 'null') then '{{ field.name }}' end
                    {%- endfor %}
                    {%- for field in required if field.null_reason %},
                    case when {{ field.name }}_kind = 'missing' then '{{ field.name }}' end
                    {%- endfor %}
                    {%- for field in required if field.kind == 'string' %},
                    case when {{ empty_text(field.name ~ '_text') }} then '{{ field.name }} (empty)' end
                    {%- endfor %})
            {%- for field in required if field.null_reason %}
            when '{{ field.null_reason }}' then '{{ field.name }} is null'
            {%- endfor %}
            when 'wrong_type' then
                concat_ws('; '
                    {%- for field in fields %},
                    {{ landing_kind_problem(field) }}
                    {%- if field.type == 'timestamp' %},
                    {{ landing_time_problem(field) }}
                    {%- endif %}
                    {%- endfor %})
            {%- if fields | selectattr('type', 'equalto', 'decimal') | list %}
            when 'invalid_value' then
                {{ landing_value_problem_detail(fields) }}
            {%- endif %}
            when 'unknown_event_type' then
                'event_type "' || event_type_text || '" is not one of {{ event_types | join(", ") }}'
            when 'event_ts_out_of_range' then
                'event_ts ' || event_ts_text || ' is before {{ var("min_event_ts") }}'
            when 'outside_lookback' then
                'held back: event_ts ' || event_ts_text || ' is more than lookback_days '
                || '({{ lookback_days() }}) before its landing day ' || landed_on
                || '; rerun that day with a larger lookback_days to merge it'
            when 'stamped_after_landing' then
                'held back: event_ts ' || event_ts_text || ' is more than max_future_days '
                || '({{ max_future_days() }}) after its landing day ' || landed_on
                || '; raise max_future_days and rerun that day to merge it'
        end as detail
    from classified
),

-- One line of an event_id per landing day is accepted; the others of that day are duplicates.
-- The order uses only values both engines have; identical lines of one file tie, and either is
-- the same line.
ordered as (
    select
        *,
        row_number() over (
            partition by event_id_text, landed_on order by source_file, line, line_number
        ) as occurrence,
        first_value(source_file || ':' || coalesce(cast(line_number as varchar), '?')) over (
            partition by event_id_text, landed_on order by source_file, line, line_number
        ) as first_read_at
    from described
    where reason is null
)

select
    landed_on,
    source_file,
    line_number,
    -- Only a line that is not accepted keeps its text (quarantined_events shows it); an accepted
    -- line is in its columns, and raw keeps it: two thirds less to write per run.
    case when occurrence > 1 then line end as line,
    line_bytes,
    case when occurrence > 1 then 'quarantined' else 'accepted' end as disposition,
    case when occurrence > 1 then 'duplicate_event_id' end as reason,
    case when occurrence > 1 then
        'event_id ' || event_id_text || ' is also at ' || first_read_at || ' (kept)'
    end as detail,
    event_id_text as event_id,
    user_id_text as user_id,
    event_type,
    event_ts,
    revenue,
    properties
from ordered

union all

select
    landed_on,
    source_file,
    line_number,
    line,
    line_bytes,
    case when reason in ({{ held_back_reasons() }}) then 'held_back' else 'quarantined' end as disposition,
    reason,
    detail,
    cast(null as varchar) as event_id,
    cast(null as varchar) as user_id,
    cast(null as varchar) as event_type,
    cast(null as timestamp) as event_ts,
    cast(null as {{ revenue_type }}) as revenue,
    cast(null as varchar) as properties
from described
where reason is not null

union all

select
    landed_on,
    source_file,
    cast(null as bigint) as line_number,
    cast(null as varchar) as line,
    object_bytes as line_bytes,
    'quarantined' as disposition,
    'unreadable_file' as reason,
    detail,
    cast(null as varchar) as event_id,
    cast(null as varchar) as user_id,
    cast(null as varchar) as event_type,
    cast(null as timestamp) as event_ts,
    cast(null as {{ revenue_type }}) as revenue,
    cast(null as varchar) as properties
from ({{ unreadable_object_rows('events') }}) as unreadable
