{#- A raw table's files as text lines, one row per line: dt (the partition the file landed in),
    source_file, line_number (1-based; null where the engine cannot tell), line, decodable.
    Reading lines rather than JSON is what lets staging quarantine a bad line instead of failing
    the whole read (and the run) on it; the JSON is parsed in SQL (macros/raw_json.sql).
    Callers filter with raw_partition_filter(), which is what prunes partitions on Athena. -#}
{% macro raw_lines(table_name) -%}
  {{ return(adapter.dispatch('raw_lines')(table_name)) }}
{%- endmacro %}

{#- Athena: the `<table>_lines` Glue table (one string column over the same S3 prefix, partition
    projection on dt; terraform/modules/catalog). Athena does not expose a line's position, so
    line_number is null; "$path" names the file. Athena's reader splits lines at LF, CRLF or CR
    and reads every object under the partition except hidden ones (`_`/`.` names); it decodes
    invalid UTF-8 bytes as U+FFFD, which staging quarantines per line (invalid_encoding). -#}
{% macro default__raw_lines(table_name) -%}
  {%- set skipped = unreadable_objects(table_name) | map(attribute='source_file') | list -%}
  (select dt, "$path" as source_file, cast(null as bigint) as line_number, line, true as decodable
   from {{ source('raw', table_name ~ '_lines') }}
   {%- if skipped %}
   where "$path" not in ({% for uri in skipped %}{{ sql_string(uri) }}{{ ", " if not loop.last }}{% endfor %})
   {%- endif %})
{%- endmacro %}

{#- DuckDB: the lines the dbt-executor streamed out of the interval's raw objects before this
    parse (dbt_runtime/raw_lines.py, var `raw_lines`: one Parquet file per raw table), split
    the way Athena's text reader splits them: at LF, CRLF or a lone CR, with exact line
    numbers. It reads every object under the day's folders, whatever its name or sub-folder,
    except those Athena does not read either (names starting with `_` or `.`) and those it
    found unreadable as text (var `unreadable_objects`, e.g. compressed): staging quarantines
    those whole. A line that is not valid UTF-8 is not decodable and keeps its bytes escaped
    (`\xNN`). DuckDB cannot split objects into lines in bounded memory itself (why, in that
    module). -#}
{% macro duckdb__raw_lines(table_name) -%}
  {#- Named for dbt's lineage (the model depends on the source, as on Athena). -#}
  {%- set relation = source('raw', table_name ~ '_lines') -%}
  {%- set staged = var('raw_lines', none) -%}
  {%- if execute and staged is none -%}
    {{ exceptions.raise_compiler_error(
        "var 'raw_lines' is not set: on DuckDB, staging reads the raw lines the dbt-executor's "
        ~ "staging stage streams out of raw (dbt_runtime/raw_lines.py); run staging through it") }}
  {%- endif -%}
  {%- set path = (staged or {}).get(table_name) -%}
  {%- if path -%}
  (select dt, source_file, line_number, line, decodable from read_parquet({{ sql_string(path) }}))
  {%- else -%}
  (select cast(null as varchar) as dt, cast(null as varchar) as source_file, cast(null as bigint) as line_number,
          cast(null as varchar) as line, true as decodable where false)
  {%- endif %}
{%- endmacro %}

{#- The raw objects of `table_name` that the dbt-executor found unreadable as text lines
    (dbt_runtime/raw_inputs.py: compressed, hidden): [{source_file, landed_on, bytes, detail}].
    Staging quarantines each as one row; neither engine reads them as lines. -#}
{% macro unreadable_objects(table_name) -%}
  {{ return(var('unreadable_objects', {}).get(table_name, [])) }}
{%- endmacro %}

{#- One quarantine-shaped row per unreadable object of `table_name`: landed_on, source_file,
    line (null), detail, object_bytes. -#}
{% macro unreadable_object_rows(table_name) -%}
  {%- set objects = unreadable_objects(table_name) -%}
  {%- if objects -%}
  select landed_on, source_file, detail, object_bytes from (values
    {%- for o in objects %}
    ({{ sql_string(o.landed_on) }}, {{ sql_string(o.source_file) }}, {{ sql_string(o.detail) }}, cast({{ o.bytes | int }} as bigint)){{ "," if not loop.last }}
    {%- endfor %}
  ) as unreadable (landed_on, source_file, detail, object_bytes)
  {%- else -%}
  select cast(null as varchar) as landed_on, cast(null as varchar) as source_file,
         cast(null as varchar) as detail, cast(null as bigint) as object_bytes
  from (values (1)) as nothing (x) where false
  {%- endif %}
{%- endmacro %}
