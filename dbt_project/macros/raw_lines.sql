{#- A raw table's files as text lines, one row per line: dt (the partition the file landed in),
    source_file, line_number (1-based; null where the engine cannot tell), line, decodable.
    Reading lines rather than JSON is what lets staging quarantine a bad line instead of failing
    the whole read (and the run) on it; the JSON is parsed in SQL (macros/raw_json.sql).
    Callers filter with raw_partition_filter() as for raw_source(). -#}
{% macro raw_lines(table_name) -%}
  {{ return(adapter.dispatch('raw_lines')(table_name)) }}
{%- endmacro %}

{#- Athena: the `<table>_lines` Glue table (one string column over the same S3 prefix, partition
    projection on dt; terraform/modules/catalog). Athena does not expose a line's position, so
    line_number is null; "$path" names the file. -#}
{% macro default__raw_lines(table_name) -%}
  (select dt, "$path" as source_file, cast(null as bigint) as line_number, line, true as decodable
   from {{ source('raw', table_name ~ '_lines') }})
{%- endmacro %}

{#- DuckDB: each file read whole (read_blob: no maximum line size, so an oversized record is
    just a long line) and split on newlines. A file that is not valid UTF-8 cannot be split
    into text lines: it becomes one row with decodable = false (quarantined as a whole file).
    The empty string after a file's final newline is not a line; an empty file has no lines.
    The files are read in one pass, with no CTE used twice: DuckDB materialises such a CTE,
    which here would be the text of every raw file of the interval. -#}
{% macro duckdb__raw_lines(table_name) -%}
  {%- set relation = source('raw', table_name ~ '_lines') -%}
  {%- set patterns = raw_file_patterns(table_name) -%}
  {%- if raw_files_exist(patterns) -%}
  (
    with files as (
        select
            filename as source_file,
            regexp_extract(filename, '/dt=([^/]+)/', 1) as dt,
            try(decode(content)) as text
        from read_blob([{%- for pattern in patterns %}'{{ pattern }}'{{ ", " if not loop.last }}{% endfor -%}])
    ),
    numbered as (
        select source_file, dt, decodable, generate_subscripts(lines, 1) as line_number, unnest(lines) as line, len(lines) as line_count
        from (
            select source_file, dt, text is not null as decodable,
                   coalesce(string_split(text, chr(10)), [cast(null as varchar)]) as lines
            from files
        )
    )
    select dt, source_file, case when decodable then cast(line_number as bigint) end as line_number,
           rtrim(line, chr(13)) as line, decodable
    from numbered
    where not decodable or not (line_number = line_count and line = '')
  )
  {%- else -%}
  (select cast(null as varchar) as dt, cast(null as varchar) as source_file, cast(null as bigint) as line_number,
          cast(null as varchar) as line, true as decodable where false)
  {%- endif %}
{%- endmacro %}
