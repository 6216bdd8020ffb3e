{#- The raw zone for one source table: the run's interval partitions, or every partition on a
    full refresh (a rebuild from raw). Models filter with raw_partition_filter() as well, which
    is what prunes partitions on Athena.
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
  {%- set patterns = raw_file_patterns(table_name) -%}
  {%- if raw_files_exist(patterns) -%}
  read_json(
    [{%- for pattern in patterns %}{{ sql_string(pattern) }}{{ ", " if not loop.last }}{% endfor -%}],
    format = 'newline_delimited',
    hive_partitioning = true,
    hive_types = {'dt': 'VARCHAR'},
    columns = {
      {%- for name, type in columns.items() %}'{{ name }}': '{{ type }}'{{ ", " if not loop.last }}{% endfor -%}
    }
  )
  {%- else -%}
  (select {% for name, type in columns.items() %}cast(null as {{ type }}) as {{ name }}, {% endfor %}cast(null as varchar) as dt where false)
  {%- endif %}
{%- endmacro %}

{#- The S3 patterns of a raw table's objects: everything under the interval's day folders (any
    name, sub-folders included), or under every day's on a full refresh. -#}
{% macro raw_file_patterns(table_name) -%}
  {%- set days = ['*'] if flags.FULL_REFRESH else interval_days() -%}
  {%- set patterns = [] -%}
  {%- for day in days -%}
    {%- do patterns.append("s3://" ~ var("raw_bucket") ~ "/" ~ table_name ~ "/dt=" ~ day ~ "/**") -%}
  {%- endfor -%}
  {{ return(patterns) }}
{%- endmacro %}

{#- Like an Athena partition without files, a day without files is zero rows (DuckDB's readers
    fail on a pattern that matches nothing), so look first. -#}
{% macro raw_files_exist(patterns) -%}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set found = run_query("select count(*) from glob([" ~ ("'" ~ patterns | join("', '") ~ "'") ~ "])") -%}
  {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro duckdb_type(athena_type) -%}
  {%- set t = athena_type | lower -%}
  {%- if t.startswith('struct') or t.startswith('map') or t.startswith('array') -%}JSON
  {%- elif t == 'string' -%}VARCHAR
  {%- else -%}{{ t | upper }}
  {%- endif -%}
{%- endmacro %}

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

{#- DuckDB: the file patterns already name only the interval's partitions (raw_file_patterns), so
    the predicate is redundant there; and any filter on a value taken from the file name made
    DuckDB hold every raw file's text in memory at once (a 2M-event interval ran out of the
    function's memory, the same read without it streams in 700 MB). -#}
{% macro duckdb__raw_partition_filter() -%}
  1 = 1
{%- endmacro %}
