{#- Every raw users-export line of the run's interval, parsed and validated like the events
    (stg_raw_event_lines), and every users object that could not be read as lines. Each is
    accepted (stg_raw_users) or quarantined with a reason (quarantined_events, raw_table
    'users'); the first failing check names it:
      unreadable_file, invalid_encoding, oversized_record, malformed_json   as for events
      missing_required_field  user_id, email, country, signed_up_at or updated_at missing,
                              null or empty
      wrong_type              a field that is not a string, or a time that is not ISO-8601
    A user exported several times is not a duplicate: the latest export wins (stg_raw_users).
    A table of the run (run-scoped): the export is read once. -#}
{{ config(materialized='table', table_type='iceberg', format='parquet') }}
{%- set required = ['user_id', 'email', 'country', 'signed_up_at', 'updated_at'] -%}
{%- set optional = ['plan'] -%}
with strict as {{ raw_documents('users') }},

fields as (
    select
        *,
        {%- for key in required + optional %}
        {{ json_kind('document', key) }} as {{ key }}_kind,
        {{ json_scalar_text('document', key) }} as {{ key }}_text{{ "," if not loop.last }}
        {%- endfor %}
    from strict
),

typed as (
    select
        *,
        {{ try_parse_iso_timestamp('signed_up_at_text') }} as signed_up_at,
        {{ try_parse_iso_timestamp('updated_at_text') }} as updated_at
    from fields
),

classified as (
    select
        *,
        case
            {{ raw_line_problems() }}
            when {% for key in required %}{{ key }}_kind in ('missing', 'null') or {{ empty_text(key ~ '_text') }}{{ " or " if not loop.last }}{% endfor %}
                then 'missing_required_field'
            when {% for key in required %}{{ key }}_kind <> 'string' or {% endfor -%}
                plan_kind not in ('missing', 'null', 'string')
                or signed_up_at is null or updated_at is null
                then 'wrong_type'
        end as reason
    from typed
),

described as (
    select
        *,
        case reason
            {{ raw_line_problem_details() }}
            when 'missing_required_field' then
                'missing, null or empty: ' || concat_ws(', '
                    {%- for key in required %},
                    case when {{ key }}_kind in ('missing', 'null') or {{ empty_text(key ~ '_text') }}
                        then '{{ key }}' end
                    {%- endfor %})
            when 'wrong_type' then
                concat_ws('; '
                    {%- for key in required + optional %},
                    case when {{ key }}_kind not in ('missing', 'null', 'string')
                        then '{{ key }} is a ' || {{ key }}_kind || ', not a string' end
                    {%- endfor %}
                    {%- for key in ['signed_up_at', 'updated_at'] %},
                    case when {{ key }}_kind = 'string' and {{ key }} is null
                        then '{{ key }} "' || {{ key }}_text || '" is not an ISO-8601 time ({{ iso_timestamp_profile() }})' end
                    {%- endfor %})
        end as detail
    from classified
)

select
    landed_on,
    source_file,
    line_number,
    line,
    line_bytes,
    case when reason is null then 'accepted' else 'quarantined' end as disposition,
    reason,
    detail,
    case when reason is null then user_id_text end as user_id,
    case when reason is null then lower(email_text) end as email,
    case when reason is null then upper(country_text) end as country,
    case when reason is null then lower(plan_text) end as plan,
    case when reason is null then signed_up_at end as signed_up_at,
    case when reason is null then updated_at end as updated_at
from described

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
    cast(null as varchar) as user_id,
    cast(null as varchar) as email,
    cast(null as varchar) as country,
    cast(null as varchar) as plan,
    cast(null as timestamp) as signed_up_at,
    cast(null as timestamp) as updated_at
from ({{ unreadable_object_rows('users') }}) as unreadable
