{#- The few expressions that Athena (Trino) and DuckDB spell differently. -#}

{% macro add_days(date_expression, days) -%}
  {{ return(adapter.dispatch('add_days')(date_expression, days)) }}
{%- endmacro %}
{% macro default__add_days(date_expression, days) -%}
  date_add('day', {{ days }}, {{ date_expression }})
{%- endmacro %}
{% macro duckdb__add_days(date_expression, days) -%}
  cast({{ date_expression }} + to_days({{ days }}) as date)
{%- endmacro %}

{#- Whether `text` contains a match of the regular expression `pattern` (RE2 and Java regex
    agree on the patterns used here). -#}
{% macro regex_contains(text, pattern) -%}
  {{ return(adapter.dispatch('regex_contains')(text, pattern)) }}
{%- endmacro %}
{% macro default__regex_contains(text, pattern) -%}
  regexp_like({{ text }}, '{{ pattern }}')
{%- endmacro %}
{% macro duckdb__regex_contains(text, pattern) -%}
  regexp_matches({{ text }}, '{{ pattern }}')
{%- endmacro %}

{#- `text` with every match of `pattern` replaced. -#}
{% macro regex_replace_all(text, pattern, replacement) -%}
  {{ return(adapter.dispatch('regex_replace_all')(text, pattern, replacement)) }}
{%- endmacro %}
{% macro default__regex_replace_all(text, pattern, replacement) -%}
  regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}
{% macro duckdb__regex_replace_all(text, pattern, replacement) -%}
  regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}
