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

{#- DuckDB: each file read whole (read_blob: no maximum line size, so an oversized record is
    just a long line) and split into lines the way Athena's text reader does: at LF, CRLF or a
    lone CR. The empty string after a file's final line end is not a line; an empty file has
    no lines. A file that is not all valid UTF-8 is split as escaped bytes (DuckDB's blob text,
    `\xNN`) and each line decoded on its own: only the lines holding invalid bytes are not
    decodable (their text keeps the escapes, so the quarantine shows the bytes).
    Every object under the day's folder is read, whatever its name or sub-folder, except those
    Athena does not read either (names starting with `_` or `.`, raw_object_hidden) and those
    the dbt-executor found unreadable as text (var `unreadable_objects`, e.g. compressed):
    staging quarantines those whole.
    The files are read in one pass, with no CTE used twice: DuckDB materialises such a CTE,
    which here would be the text of every raw file of the interval. -#}
{% macro duckdb__raw_lines(table_name) -%}
  {#- Named for dbt's lineage (the model depends on the source, as on Athena): the files are
      read from S3 directly. -#}
  {%- set relation = source('raw', table_name ~ '_lines') -%}
  {%- set patterns = raw_file_patterns(table_name) -%}
  {%- set skipped = unreadable_objects(table_name) | map(attribute='source_file') | list -%}
  {%- if raw_files_exist(patterns) -%}
  (
    with files as (
        select
            filename as source_file,
            regexp_extract(filename, '/dt=([^/]+)/', 1) as dt,
            try(decode(content)) as text,
            case when try(decode(content)) is null then cast(content as varchar) end as escaped
        from read_blob([{%- for pattern in patterns %}{{ sql_string(pattern) }}{{ ", " if not loop.last }}{% endfor -%}])
        where not {{ raw_object_hidden('filename') }}
        {%- if skipped %}
          and filename not in ({% for uri in skipped %}{{ sql_string(uri) }}{{ ", " if not loop.last }}{% endfor %})
        {%- endif %}
    ),
    numbered as (
        select
            source_file, dt, escaped_bytes,
            generate_subscripts(lines, 1) as line_number, unnest(lines) as piece, len(lines) as line_count
        from (
            select
                source_file, dt, escaped is not null as escaped_bytes,
                case
                    when escaped is not null then regexp_split_to_array(escaped, '\\x0D\\x0A|\\x0D|\\x0A')
                    when contains(text, chr(13)) then regexp_split_to_array(text, '\r\n|\r|\n')
                    else string_split(text, chr(10))
                end as lines
            from files
        )
    )
    select
        dt,
        source_file,
        cast(line_number as bigint) as line_number,
        case
            when not escaped_bytes then piece
            -- a line with invalid bytes stays escaped, but with its quotes readable
            else coalesce(try(decode(cast(piece as blob))), replace(piece, '\x22', '"'))
        end as line,
        not escaped_bytes or try(decode(cast(piece as blob))) is not null as decodable
    from numbered
    where not (line_number = line_count and piece = '')
  )
  {%- else -%}
  (select cast(null as varchar) as dt, cast(null as varchar) as source_file, cast(null as bigint) as line_number,
          cast(null as varchar) as line, true as decodable where false)
  {%- endif %}
{%- endmacro %}

{#- Objects Athena's text reader skips: a name (or folder) under the day starting with `_` or
    `.` (Hadoop's hidden files). Read by neither engine; the dbt-executor lists them as
    unreadable objects so staging quarantines them whole instead of losing them silently. -#}
{% macro raw_object_hidden(path) -%}
  {{ regex_contains(path, '/dt=[^/]+/([^/]+/)*[._][^/]*$') }}
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
