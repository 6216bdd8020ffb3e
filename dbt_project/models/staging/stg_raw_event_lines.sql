{#- Every raw event line of the run's interval, parsed and validated: `reason` is null for a
    usable line (stg_raw_events) and a short code otherwise (quarantined_events). The first
    failing check names the reason, in this order:
      invalid_encoding       the file is not UTF-8 text (DuckDB only; one row for the file)
      oversized_record       longer than max_record_bytes
      malformed_json         not a JSON object: broken, truncated (e.g. a file cut short), blank
      missing_required_field event_id, event_type or event_ts missing or null; user_id missing
      null_user_id           user_id present but null
      wrong_type             a field of the wrong JSON type, event_ts not an ISO-8601 time,
                             revenue not a number (or too large), properties not an object
      unknown_event_type     event_type not in the `event_types` var
      event_ts_out_of_range  before min_event_ts, or more than a day after the landing day ends
      duplicate_event_id     an event_id of another usable line of this interval: one line is
                             kept, the one of the earliest landing day, then file name, then
                             line text (byte order); the others are duplicates
    Fields nobody asked for are ignored (they stay in the raw line).

    A table of the run (run-scoped, macros/run_scoped.sql): the raw files of the interval are
    read once, here, and every model and test downstream reads this result. Being written once
    also makes the choice among duplicates a single decision that every consumer sees; it uses
    no line number, which Athena does not have, so both engines keep the same line. -#}
{{ config(materialized='table', table_type='iceberg', format='parquet') }}
{%- set required = ['event_id', 'user_id', 'event_type', 'event_ts'] -%}
{%- set optional = ['revenue', 'properties'] -%}
{%- set event_types = accepted_event_types() -%}
with lines as (
    select
        dt as landed_on,
        source_file,
        line_number,
        line,
        decodable,
        {{ byte_length('line') }} as line_bytes
    from {{ raw_lines('events') }}
    where {{ raw_partition_filter() }}
),

documents as (
    select
        *,
        case
            when decodable and line_bytes <= {{ var('max_record_bytes') }}
                then {{ json_object_or_null('line') }}
        end as document
    from lines
),

fields as (
    select
        landed_on,
        source_file,
        line_number,
        line,
        decodable,
        line_bytes,
        document,
        {%- for key in required + optional %}
        {{ json_kind('document', key) }} as {{ key }}_kind,
        {%- endfor %}
        {%- for key in required + ['revenue'] %}
        {{ json_scalar_text('document', key) }} as {{ key }}_text,
        {%- endfor %}
        {{ json_member_text('document', 'properties') }} as properties
    from documents
),

typed as (
    select
        *,
        lower(event_type_text) as event_type,
        {{ try_parse_iso_timestamp('event_ts_text') }} as event_ts,
        try_cast(try_cast(revenue_text as double) as decimal(12, 2)) as revenue
    from fields
),

classified as (
    select
        *,
        case
            when not decodable then 'invalid_encoding'
            when line_bytes > {{ var('max_record_bytes') }} then 'oversized_record'
            when document is null then 'malformed_json'
            when event_id_kind in ('missing', 'null') or event_type_kind in ('missing', 'null')
                or event_ts_kind in ('missing', 'null') or user_id_kind = 'missing'
                then 'missing_required_field'
            when user_id_kind = 'null' then 'null_user_id'
            when {% for key in required %}{{ key }}_kind <> 'string' or {% endfor -%}
                event_ts is null
                or revenue_kind not in ('missing', 'null', 'number')
                or (revenue_kind = 'number' and revenue is null)
                or properties_kind not in ('missing', 'null', 'object')
                then 'wrong_type'
            when event_type not in ('{{ event_types | join("', '") }}') then 'unknown_event_type'
            when event_ts < timestamp '{{ var("min_event_ts") }}'
                or event_ts >= cast({{ add_days('cast(landed_on as date)', 2) }} as timestamp)
                then 'event_ts_out_of_range'
        end as reason
    from typed
),

described as (
    select
        *,
        case reason
            when 'invalid_encoding' then 'the file is not valid UTF-8 text'
            when 'oversized_record' then
                'record of ' || cast(line_bytes as varchar) || ' bytes exceeds max_record_bytes '
                || '{{ var("max_record_bytes") }}'
            when 'malformed_json' then
                case when trim(line) = '' then 'blank line'
                     else 'not a JSON object (malformed, or a line cut short)' end
            when 'missing_required_field' then
                'missing or null: ' || concat_ws(', '
                    {%- for key in ['event_id', 'event_type', 'event_ts'] %},
                    case when {{ key }}_kind in ('missing', 'null') then '{{ key }}' end
                    {%- endfor %},
                    case when user_id_kind = 'missing' then 'user_id' end)
            when 'null_user_id' then 'user_id is null'
            when 'wrong_type' then
                concat_ws('; '
                    {%- for key in required %},
                    case when {{ key }}_kind <> 'string'
                        then '{{ key }} is a ' || {{ key }}_kind || ', not a string' end
                    {%- endfor %},
                    case when event_ts_kind = 'string' and event_ts is null
                        then 'event_ts "' || event_ts_text || '" is not an ISO-8601 timestamp' end,
                    case when revenue_kind not in ('missing', 'null', 'number')
                        then 'revenue is a ' || revenue_kind || ', not a number' end,
                    case when revenue_kind = 'number' and revenue is null
                        then 'revenue ' || revenue_text || ' does not fit decimal(12, 2)' end,
                    case when properties_kind not in ('missing', 'null', 'object')
                        then 'properties is a ' || properties_kind || ', not an object' end)
            when 'unknown_event_type' then
                'event_type "' || event_type_text || '" is not one of {{ event_types | join(", ") }}'
            when 'event_ts_out_of_range' then
                'event_ts ' || event_ts_text || ' is before {{ var("min_event_ts") }} or more than '
                || 'a day after the landing day ' || landed_on
        end as detail
    from classified
),

-- Within the interval one line of an event_id is kept; the others are duplicates. (Across
-- days a repeated event_id is a redelivery: fct_events' merge keeps its first landing.) The
-- order uses only values both engines have; identical lines of one file tie, and either is
-- the same line.
ordered as (
    select
        *,
        row_number() over (
            partition by event_id_text order by landed_on, source_file, line, line_number
        ) as occurrence,
        first_value(source_file || ':' || coalesce(cast(line_number as varchar), '?')) over (
            partition by event_id_text order by landed_on, source_file, line, line_number
        ) as first_read_at
    from described
    where reason is null
)

select
    landed_on,
    source_file,
    line_number,
    line,
    line_bytes,
    case when occurrence > 1 then 'duplicate_event_id' end as reason,
    case when occurrence > 1 then 'event_id ' || event_id_text || ' is also at ' || first_read_at || ' (kept)' end as detail,
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
    reason,
    detail,
    cast(null as varchar) as event_id,
    cast(null as varchar) as user_id,
    cast(null as varchar) as event_type,
    cast(null as timestamp) as event_ts,
    cast(null as decimal(12, 2)) as revenue,
    cast(null as varchar) as properties
from described
where reason is not null
