{#- A model derived wholly from its run's own landing days (quarantined_events: the lines of
    those days that could not be used) replaces their partitions instead of merging into them,
    so a rerun after a fix leaves no row that the current raw data no longer produces (older
    Iceberg snapshots keep the history). Configure `replace_landing_days='<date column>'` and
    `pre_hook="{{ replace_landing_days() }}"`.

    Athena: this pre-hook deletes the partitions of the interval's landing days, then
    dbt-athena's merge inserts the run's rows: two commits (Athena's MERGE cannot delete target
    rows the source no longer has), so a merge that fails after the delete leaves those days
    without quarantine rows until the day is rerun. DuckDB (local): nothing here; the
    iceberg_table materialization replaces the partitions in its one commit. -#}
{% macro replace_landing_days() -%}
  {{ return(adapter.dispatch('replace_landing_days')()) }}
{%- endmacro %}

{% macro default__replace_landing_days() -%}
  {%- set column = config.get('replace_landing_days') -%}
  {%- if column and is_incremental() and not should_full_refresh() -%}
    delete from {{ this }}
    where {{ column }} >= date '{{ interval_days()[0] }}'
      and {{ column }} < date '{{ var("interval_end")[:10] }}'
  {%- endif -%}
{%- endmacro %}

{% macro duckdb__replace_landing_days() -%}
{%- endmacro %}

{#- The rows a replace_landing_days model may write: those of the days it replaces. Only a full
    refresh of the model itself replaces every day; a run that parsed every raw day for another
    model (`full_refresh_models`, e.g. fct_events) still replaces only its interval's days. -#}
{% macro in_replaced_landing_days(column) -%}
  {%- if should_full_refresh() -%}
    1 = 1
  {%- else -%}
    cast({{ column }} as date) >= date '{{ interval_days()[0] }}'
    and cast({{ column }} as date) < date '{{ var("interval_end")[:10] }}'
  {%- endif -%}
{%- endmacro %}
