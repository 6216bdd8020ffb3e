{#- The run's data interval as a list of days (YYYY-MM-DD), end exclusive. -#}
{% macro interval_days() -%}
  {%- set start = modules.datetime.date.fromisoformat(var('interval_start')[:10]) -%}
  {%- set end = modules.datetime.date.fromisoformat(var('interval_end')[:10]) -%}
  {%- if end <= start -%}
    {{ exceptions.raise_compiler_error("interval_end (" ~ end ~ ") must be after interval_start (" ~ start ~ ")") }}
  {%- endif -%}
  {%- set days = [] -%}
  {%- for offset in range((end - start).days) -%}
    {%- do days.append((start + modules.datetime.timedelta(days=offset)).isoformat()) -%}
  {%- endfor -%}
  {{ return(days) }}
{%- endmacro %}
