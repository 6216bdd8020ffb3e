{#- Every raw users-export line of the run's interval, parsed and validated like the events
    (stg_raw_event_lines), and every users object that could not be read as lines. Each is
    accepted (stg_raw_users) or quarantined with a reason (quarantined_events, raw_table
    'users'); the members read, the required ones and their types are the landing schema's
    (contracts/sources.json `datasets.users`, macros/landing_schema.sql). The first failing check
    names the reason:
      unreadable_file, invalid_encoding, oversized_record, malformed_json   as for events
      missing_required_field  user_id, email, country, signed_up_at or updated_at missing,
                              null or empty
      wrong_type              a field that is not a string, or a time that is not ISO-8601
    A user exported several times is not a duplicate: the latest export wins (stg_raw_users).
    A table of the run (run-scoped): the export is read once. -#}
{{ config(materialized='table', table_type='iceberg', format='parquet') }}
{%- set fields = landing_fields('users') -%}
{%- set required = fields | selectattr('required') | list -%}
with strict as {{ raw_documents('users') }},

fields as (
    select
        *,
        {{- landing_field_columns(fields) }}
    from strict
),

typed as (
    select
        *
        {{- landing_typed_columns(fields) }}
    from fields
),

classified as (
    select
        *,
        case
            {{ raw_line_problems() }}
            {{- landing_field_problems(fields) }}
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
                    {%- for field in required %},
                    case when {{ field.name }}_kind {{ "= 'missing'" if field.null_reason else "in ('missing', 'null')" }}
                        {%- if field.kind == 'string' %} or {{ empty_text(field.name ~ '_text') }}{% endif %}
                        then '{{ field.name }}' end
                    {%- endfor %})
            {%- for field in required if field.null_reason %}
            when '{{ field.null_reason }}' then '{{ field.name }} is null'
            {%- endfor %}
            {#- every field's kind first, then the times: the order the users' details have had #}
            when 'wrong_type' then
                concat_ws('; '
                    {%- for field in fields %},
                    {{ landing_kind_problem(field) }}
                    {%- endfor %}
                    {%- for field in fields if field.type == 'timestamp' %},
                    {{ landing_time_problem(field) }}
                    {%- endfor %})
            {%- if fields | selectattr('type', 'equalto', 'decimal') | list %}
            when 'invalid_value' then
                {{ landing_value_problem_detail(fields) }}
            {%- endif %}
        end as detail
    from classified
)

select
    landed_on,
    source_file,
    line_number,
    case when reason is null then null else line end as line,  -- as for events: not accepted only
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
