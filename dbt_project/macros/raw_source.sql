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
