{#- The raw zone for one source table, limited to the run's interval partitions.
    Athena: the Glue table the crawler maintains (partition column dt).
    DuckDB: the same JSON files read straight from S3, typed from the source's YAML columns. -#}
{% macro raw_source(table_name) -%}
  {{ return(adapter.dispatch('raw_source')(table_name)) }}
{%- endmacro %}

{% macro default__raw_source(table_name) -%}
  {{ source('raw', table_name) }}
{%- endmacro %}

{% macro duckdb__raw_source(table_name) -%}
  {%- set relation = source('raw', table_name) -%}
  {%- set columns = {} -%}
  {%- if execute -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.raw.' ~ table_name] -%}
    {%- for column in node.columns.values() if column.name != 'dt' -%}
      {%- do columns.update({column.name: duckdb_type(column.data_type)}) -%}
    {%- endfor -%}
  {%- endif -%}
  read_json(
    [{%- for day in interval_days() %}'s3://{{ var("raw_bucket") }}/{{ table_name }}/dt={{ day }}/*.jsonl'{{ ", " if not loop.last }}{% endfor -%}],
    format = 'newline_delimited',
    hive_partitioning = true,
    columns = {
      {%- for name, type in columns.items() %}'{{ name }}': '{{ type }}'{{ ", " if not loop.last }}{% endfor -%}
    }
  )
{%- endmacro %}

{% macro duckdb_type(athena_type) -%}
  {%- set t = athena_type | lower -%}
  {%- if t.startswith('struct') or t.startswith('map') or t.startswith('array') -%}JSON
  {%- elif t == 'string' -%}VARCHAR
  {%- else -%}{{ t | upper }}
  {%- endif -%}
{%- endmacro %}
