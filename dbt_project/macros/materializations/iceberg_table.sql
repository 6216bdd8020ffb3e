{#- Local target: build the model in DuckDB, then commit its rows to the model's Iceberg table in
    the Glue catalog (pyiceberg, through the dbt_runtime.duckdb_plugin UDF) in one commit.
    Same semantics as dbt-athena's incremental merge: rows are merged on unique_key under the
    model's update_condition (and delete_condition, insert_condition), and only the partitions
    of the merge window (incremental_predicates on Athena, `merge_window_column` here) are read
    and rewritten. A full refresh, or the first
    run, replaces the table. `replace_landing_days` (a column) replaces the partitions of the
    run's own landing days instead of merging into them (see macros/replace_landing_days.sql).
    `unique_across_table=true` matches the unique_key across the whole table instead of the
    merge window (on Athena: no incremental_predicates, which would bound the match; the two
    together are refused here): the rows written must still lie in the window, but a current
    row with the same key is found wherever it lies, and the partition holding it is rewritten
    without it in the same commit. So the table never holds a key twice (fct_events: an event
    redelivered with another day's event_ts). Cost: every run reads the key columns (plus the
    update_condition's and the partition columns) of the whole table, not only of its window.
    The DuckDB relation becomes a view over the committed snapshot, so
    downstream models and tests read exactly what was committed. -#}
{% materialization iceberg_table, adapter='duckdb' %}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set staging_file = env_var('TMPDIR', '/tmp') ~ '/' ~ this.identifier ~ '__' ~ invocation_id ~ '.parquet' -%}
  {%- set profile_file = env_var('TMPDIR', '/tmp') ~ '/' ~ this.identifier ~ '__' ~ invocation_id ~ '.profile.json' -%}
  {%- set window_column = config.get('merge_window_column') -%}
  {%- set window = none if (should_full_refresh() or not window_column) else merge_window() -%}
  {%- set replace_column = config.get('replace_landing_days') -%}
  {%- set replace = none if (should_full_refresh() or not replace_column) else {
      'column': replace_column, 'start': interval_days()[0], 'end': var('interval_end')[:10]} -%}
  {%- set unique_across_table = config.get('unique_across_table', false) -%}
  {%- if unique_across_table and config.get('incremental_predicates') -%}
    {{ exceptions.raise_compiler_error(
        this.identifier ~ ": unique_across_table matches keys across the whole table, but "
        ~ "incremental_predicates would bound dbt-athena's match to some partitions: drop them") }}
  {%- endif -%}
  {%- set options = {
      'unique_key': config.get('unique_key'),
      'partitioned_by': config.get('partitioned_by') or [],
      'full_refresh': should_full_refresh(),
      'update_condition': config.get('update_condition'),
      'delete_condition': config.get('delete_condition'),
      'insert_condition': config.get('insert_condition'),
      'window': none if window is none else {
          'column': window_column, 'start': window.start, 'end': window.end},
      'replace': replace,
      'unique_across_table': unique_across_table,
  } -%}

  {{ run_hooks(pre_hooks) }}

  {#- DuckDB's profiler counts the rows each scan of this build query yields (raw files, Iceberg
      snapshots): the local stand-in for Athena's bytes scanned; the dbt-executor reads it. -#}
  {% call statement('profile_rows_read') -%}
    set enable_profiling = 'json';
    set custom_profiling_settings = '{"OPERATOR_CARDINALITY": "true"}';
    set profiling_output = '{{ profile_file }}'
  {%- endcall %}
  {% call statement('stage_rows') -%}
    copy ({{ sql }}) to '{{ staging_file }}' (format parquet)
  {%- endcall %}
  {% call statement('profile_off') -%}
    pragma disable_profiling
  {%- endcall %}

  {%- set committed = run_query(
      "select lakehouse_iceberg_commit('" ~ this.schema ~ "', '" ~ this.identifier ~ "', '"
      ~ staging_file ~ "', '" ~ (tojson(options) | replace("'", "''")) ~ "')") -%}
  {%- set result = fromjson(committed.columns[0].values()[0]) -%}

  {% call statement('expose_snapshot') -%}
    create or replace view {{ target_relation }} as
    select * from iceberg_scan('{{ result.metadata_location }}')
  {%- endcall %}

  {% do store_raw_result(
      name='main',
      message='ICEBERG ' ~ result.operation ~ ' ' ~ result.rows_written,
      code=result.operation,
      rows_affected=result.rows_written) %}

  {{ run_hooks(post_hooks) }}
  {{ adapter.commit() }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
