{#- The partition predicate on dt (the day a raw file landed): the run's interval, or none on a
    full refresh. -#}
{% macro raw_partition_filter() -%}
  {{ return(adapter.dispatch('raw_partition_filter')()) }}
{%- endmacro %}

{% macro default__raw_partition_filter() -%}
  {%- if flags.FULL_REFRESH -%}
    1 = 1
  {%- else -%}
    dt >= '{{ var("interval_start") }}' and dt < '{{ var("interval_end") }}'
  {%- endif -%}
{%- endmacro %}

{#- DuckDB: the staged lines (macros/raw_lines.sql) are the interval's only, read from the
    days' folders by the dbt-executor, so the predicate would be redundant there. -#}
{% macro duckdb__raw_partition_filter() -%}
  1 = 1
{%- endmacro %}
