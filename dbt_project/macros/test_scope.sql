{#- Which rows of a mart a data test reads.

    A test configured `where: "merge_window(<column>)"` reads only the partitions of <column>
    that the run may have written: its merge window (macros/merge_window.sql). The rows outside
    it are the ones earlier runs wrote and tested, and this run leaves them as they were, so a
    daily run's tests cost the same with 180 days stored as with one: both engines prune the
    table's files by the partition filter instead of reading every file of it.
    After a full refresh every row was written again, and the test-executor passes
    `test_whole_tables: true`: the same tests then read the whole table (as they do in a
    `dbt build --full-refresh`). `dbt test` by hand reads whole tables too unless told
    otherwise (the var's default).

    The window is a run's vars, and dbt renders a YAML config when it parses the project, which
    the dbt runtime does once per warm environment: the config holds this marker, and the
    window is substituted here, when the test is compiled (dbt's documented override of
    `get_where_subquery`). Any other `where` is applied as written. -#}
{% macro get_where_subquery(relation) -%}
  {%- set where = config.get('where') -%}
  {%- if not where -%}
    {{ return(relation) }}
  {%- endif -%}
  {%- set scoped = modules.re.fullmatch(' *merge_window[(] *([A-Za-z_][A-Za-z0-9_]*) *[)] *', where) -%}
  {%- if scoped -%}
    {%- if var('test_whole_tables') | string | lower == 'true' -%}
      {{ return(relation) }}
    {%- endif -%}
    {%- set where = in_merge_window(scoped.group(1)) -%}
  {%- endif -%}
  {{ return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") }}
{%- endmacro %}
