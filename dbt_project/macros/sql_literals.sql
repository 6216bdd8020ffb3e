{#- A value inlined into SQL as a string literal, quotes doubled (the same rule in Trino and
    DuckDB): run ids, object keys and details come from outside and may hold a quote. -#}
{% macro sql_string(value) -%}
  '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
