{#- A raw table's lines of the run's interval as JSON documents, the first half of staging that
    events and users share: landed_on, source_file, line_number, line (a leading UTF-8 byte
    order mark removed), decodable (no invalid bytes, no U+FFFD), line_bytes, json_violation
    (why a line the engine parsed is still not RFC 8259 JSON), document (the line when it is
    a JSON object within max_record_bytes, else null) and members (the landing schema's declared
    members of the document, read at once: landing_field_columns reads them). A subquery:
    `with x as {{ ... }}`. -#}
{% macro raw_documents(table_name) -%}
(
    with read_lines as (
        select
            dt as landed_on,
            source_file,
            line_number,
            case when starts_with(line, chr(65279)) then substr(line, 2) else line end as line,
            decodable and strpos(line, chr(65533)) = 0 as decodable
        from {{ raw_lines(table_name) }}
        where {{ raw_partition_filter() }}
    ),

    lines as (
        select *, {{ byte_length('line') }} as line_bytes from read_lines
    ),

    checked as (
        select
            *,
            case
                when decodable and line_bytes <= {{ var('max_record_bytes') }}
                    then {{ json_strictness_violation('line') }}
            end as json_violation,
            case
                when decodable and line_bytes <= {{ var('max_record_bytes') }}
                    then {{ json_object_or_null('line') }}
            end as parsed
        from lines
    ),

    documents as (
        select
            landed_on, source_file, line_number, line, decodable, line_bytes, json_violation,
            case when json_violation is null then parsed end as document
        from checked
    )

    select *, {{ landing_members(landing_fields(table_name)) }} as members from documents
)
{%- endmacro %}

{#- The line-level reasons every raw table shares, first in its classification (case branches
    over raw_documents' columns). -#}
{% macro raw_line_problems() -%}
            when not decodable then 'invalid_encoding'
            when line_bytes > {{ var('max_record_bytes') }} then 'oversized_record'
            when document is null then 'malformed_json'
{%- endmacro %}

{#- Their details (branches of `case reason`). -#}
{% macro raw_line_problem_details() -%}
            when 'invalid_encoding' then
                'the line is not valid UTF-8 text (invalid bytes are shown as \xNN here, '
                || 'and read as U+FFFD by Athena)'
            when 'oversized_record' then
                'record of ' || cast(line_bytes as varchar) || ' bytes exceeds max_record_bytes '
                || '{{ var("max_record_bytes") }}'
            when 'malformed_json' then
                case when {{ empty_text('line') }} then 'blank line'
                     when json_violation is not null then 'not JSON: ' || json_violation
                     else 'not a JSON object (malformed, or a line cut short)' end
{%- endmacro %}
