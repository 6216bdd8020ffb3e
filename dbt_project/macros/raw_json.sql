{#- JSON of a raw line, parsed in SQL with the engine's JSON functions (Trino's on Athena,
    DuckDB's locally). A "document" is the parsed line when it is a JSON object, else null. -#}

{% macro json_object_or_null(line) -%}
  {{ return(adapter.dispatch('json_object_or_null')(line)) }}
{%- endmacro %}
{% macro default__json_object_or_null(line) -%}
  case when substr(json_format(try(json_parse({{ line }}))), 1, 1) = '{' then try(json_parse({{ line }})) end
{%- endmacro %}
{% macro duckdb__json_object_or_null(line) -%}
  case when json_valid({{ line }}) and json_type({{ line }}) = 'OBJECT' then {{ line }} end
{%- endmacro %}

{#- A document's top-level members `keys`, read together: json_members is one select-list
    expression (the caller names it, e.g. `members`); json_kind, json_scalar_text and
    json_member_text then read one key of it. DuckDB's JSON functions parse their text on every
    call, so it extracts all keys in one parse into a list of JSON values (a missing key is
    null); Trino's document is a parsed JSON value already, and each key is extracted from it. -#}
{% macro json_members(document, keys) -%}
  {{ return(adapter.dispatch('json_members')(document, keys)) }}
{%- endmacro %}
{% macro default__json_members(document, keys) -%}
  {{ document }}
{%- endmacro %}
{% macro duckdb__json_members(document, keys) -%}
  json_extract({{ document }}, [{% for key in keys %}'$.{{ key }}'{{ ", " if not loop.last }}{% endfor %}])
{%- endmacro %}
{#- DuckDB: the JSON value of `key` in the list json_members made (lists are 1-based). -#}
{% macro duckdb__json_member(members, keys, key) -%}
  {{ members }}[{{ keys.index(key) + 1 }}]
{%- endmacro %}

{#- What a top-level member is: missing, null, string, number, boolean, object or array. -#}
{% macro json_kind(members, keys, key) -%}
  {{ return(adapter.dispatch('json_kind')(members, keys, key)) }}
{%- endmacro %}
{% macro default__json_kind(members, keys, key) -%}
  case
    when {{ members }} is null or json_extract({{ members }}, '$.{{ key }}') is null then 'missing'
    else case substr(json_format(json_extract({{ members }}, '$.{{ key }}')), 1, 1)
      when 'n' then 'null' when '"' then 'string' when '{' then 'object' when '[' then 'array'
      when 't' then 'boolean' when 'f' then 'boolean' else 'number' end
  end
{%- endmacro %}
{% macro duckdb__json_kind(members, keys, key) -%}
  case json_type({{ duckdb__json_member(members, keys, key) }})
    when 'NULL' then 'null' when 'VARCHAR' then 'string' when 'OBJECT' then 'object'
    when 'ARRAY' then 'array' when 'BOOLEAN' then 'boolean'
    when 'BIGINT' then 'number' when 'UBIGINT' then 'number' when 'DOUBLE' then 'number'
    when 'HUGEINT' then 'number'
    else 'missing'
  end
{%- endmacro %}

{#- A scalar member as text (a string's value, a number's digits); null otherwise. -#}
{% macro json_scalar_text(members, keys, key) -%}
  {{ return(adapter.dispatch('json_scalar_text')(members, keys, key)) }}
{%- endmacro %}
{% macro default__json_scalar_text(members, keys, key) -%}
  json_extract_scalar({{ members }}, '$.{{ key }}')
{%- endmacro %}
{% macro duckdb__json_scalar_text(members, keys, key) -%}
  json_extract_string({{ duckdb__json_member(members, keys, key) }}, '$')
{%- endmacro %}

{#- A member as JSON text (objects, e.g. properties). -#}
{% macro json_member_text(members, keys, key) -%}
  {{ return(adapter.dispatch('json_member_text')(members, keys, key)) }}
{%- endmacro %}
{% macro default__json_member_text(members, keys, key) -%}
  json_format(json_extract({{ members }}, '$.{{ key }}'))
{%- endmacro %}
{% macro duckdb__json_member_text(members, keys, key) -%}
  cast({{ duckdb__json_member(members, keys, key) }} as varchar)
{%- endmacro %}

{#- Size of a text in bytes (UTF-8). -#}
{% macro byte_length(text) -%}
  {{ return(adapter.dispatch('byte_length')(text)) }}
{%- endmacro %}
{% macro default__byte_length(text) -%}
  length(to_utf8({{ text }}))
{%- endmacro %}
{% macro duckdb__byte_length(text) -%}
  strlen({{ text }})
{%- endmacro %}

{#- An ISO-8601 / RFC 3339 time as a UTC timestamp with microseconds, null when the text is not
    one, identical on both engines. Neither engine's own parser is used on the raw text: they
    disagree (Athena's from_iso8601_timestamp takes week dates and "12:00Z" but no space for the
    T, and keeps milliseconds; DuckDB's cast takes a space and "24:00", and keeps microseconds).
    The accepted profile is checked by one pattern, then the text is rewritten to
    `YYYY-MM-DD HH:MM:SS.ffffff+HH:MM`, which both engines cast the same way:
        YYYY-MM-DD[(T|t|space)HH:MM[:SS[.fraction]][Z|z|+HH|+HHMM|+HH:MM]]
    No offset means UTC. Digits of the fraction past the sixth (microseconds) are dropped,
    never rounded. An impossible date (2026-02-30) is no time.
    The pattern is the landing schema's (contracts/sources.json `timestamp`, which the ingest
    function checks API records with too): the dbt runtime passes it as the var raw_timestamp. -#}
{% macro iso_timestamp_pattern() -%}
  {{- return(raw_timestamp_declaration()['pattern']) -}}
{%- endmacro %}
{#- The profile in words, for quarantine details. -#}
{% macro iso_timestamp_profile() -%}
  {{- return(raw_timestamp_declaration()['profile']) -}}
{%- endmacro %}
{% macro raw_timestamp_declaration() -%}
  {%- set declared = var('raw_timestamp', none) -%}
  {%- if declared is none -%}
    {{ exceptions.raise_compiler_error("Required var 'raw_timestamp' not found: contracts/sources.json's timestamp, which the dbt runtime passes on every invocation (dbt_invocation.dbt_vars); by hand, pass it with --vars") }}
  {%- endif -%}
  {{ return(declared) }}
{%- endmacro %}
{% macro iso_timestamp_part(text, group) -%}
  {{ return(adapter.dispatch('iso_timestamp_part')(text, group)) }}
{%- endmacro %}
{% macro default__iso_timestamp_part(text, group) -%}
  nullif(regexp_extract({{ text }}, '{{ iso_timestamp_pattern() }}', {{ group }}), '')
{%- endmacro %}
{#- DuckDB: every group from one match (a struct; DuckDB evaluates the identical call once per
    row), not one match per group. -#}
{% macro duckdb__iso_timestamp_part(text, group) -%}
  nullif(regexp_extract({{ text }}, '{{ iso_timestamp_pattern() }}', ['g1', 'g2', 'g3', 'g4', 'g5', 'g6'])['g{{ group }}'], '')
{%- endmacro %}
{% macro iso_timestamp_canonical(text) -%}
  {%- set offset = iso_timestamp_part(text, 6) -%}
  {{ iso_timestamp_part(text, 1) }} || ' ' || coalesce({{ iso_timestamp_part(text, 2) }}, '00')
    || ':' || coalesce({{ iso_timestamp_part(text, 3) }}, '00')
    || ':' || coalesce({{ iso_timestamp_part(text, 4) }}, '00')
    || '.' || rpad(substr(coalesce({{ iso_timestamp_part(text, 5) }}, ''), 1, 6), 6, '0')
    || case when {{ offset }} is null or upper({{ offset }}) = 'Z' then '+00:00'
        else substr({{ offset }}, 1, 3) || ':'
            || coalesce(nullif(substr(replace({{ offset }}, ':', ''), 4, 2), ''), '00') end
{%- endmacro %}
{% macro try_parse_iso_timestamp(text) -%}
  {{ return(adapter.dispatch('try_parse_iso_timestamp')(text)) }}
{%- endmacro %}
{% macro default__try_parse_iso_timestamp(text) -%}
  cast(try(cast({{ iso_timestamp_canonical(text) }} as timestamp(6) with time zone)) at time zone 'UTC' as timestamp(6))
{%- endmacro %}
{% macro duckdb__try_parse_iso_timestamp(text) -%}
  cast(try_cast({{ iso_timestamp_canonical(text) }} as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- A stable key for a text (quarantine rows). -#}
{% macro text_hash(text) -%}
  {{ return(adapter.dispatch('text_hash')(text)) }}
{%- endmacro %}
{% macro default__text_hash(text) -%}
  lower(to_hex(md5(to_utf8({{ text }}))))
{%- endmacro %}
{% macro duckdb__text_hash(text) -%}
  md5({{ text }})
{%- endmacro %}

{#- The accepted event types, defined once: staging quarantines any other type, and the
    `accepted_event_type` test checks fct_events against the same list. -#}
{% macro accepted_event_types() -%}
  {{ return(var('event_types')) }}
{%- endmacro %}

{#- What makes a line that the engine's JSON parser accepted still not JSON (RFC 8259), or null.
    DuckDB's parser takes trailing commas and NaN/Infinity; Trino's differs: both engines apply
    this same check, so they accept the same lines. String literals are blanked out first, so
    text inside a string never counts; the cheap pre-test keeps that off ordinary lines (plain
    substring searches where they do: a regular expression per line was a fifth of the parse). -#}
{% macro json_strictness_violation(line) -%}
  case when strpos({{ line }}, 'NaN') > 0 or strpos({{ line }}, 'Infinity') > 0
      or {{ regex_contains(line, ',\s*[}\]]') }} then
    case
      when {{ regex_contains(regex_replace_all(line, '"(\\\\.|[^"\\\\])*"', '""'), ',\s*[}\]]') }}
        then 'a trailing comma, which JSON does not allow'
      when {{ regex_contains(regex_replace_all(line, '"(\\\\.|[^"\\\\])*"', '""'), '(^|[^A-Za-z0-9_])-?(NaN|Infinity)') }}
        then 'NaN or Infinity, which are not JSON numbers'
    end
  end
{%- endmacro %}

{#- A text that is empty or only whitespace (an id that names nothing). -#}
{% macro empty_text(text) -%}
  {{ regex_contains(text, '^\s*$') }}
{%- endmacro %}
