{#- The events fct_events already holds, as a relation expression a model can select from
    WITHOUT ref('fct_events'): a model that fct_events' merge depends on (fct_events_moves)
    can then look at the table before this run's merge changes it (a ref would be a dbt cycle).

        with loaded as {{ loaded_events(['event_id', 'event_date', 'landed_on']) }}

    What it reads is the table as it is when the model is built (the last committed snapshot),
    every partition: a scan of the named columns of the whole table (Athena bills those
    columns' bytes; Parquet is columnar). When the table does not exist yet, or on a full
    refresh (fct_events is then rebuilt from every raw partition, so nothing counts as loaded),
    it is an empty relation with the same columns and types.

    Athena: the fct_events table of the marts schema (adapter.get_relation on the node's
    database/schema/alias, taken from the graph, not from ref). DuckDB (local): each run has a
    fresh DuckDB file, so the table is found in the Glue catalog (the UDF
    lakehouse_iceberg_metadata_location of dbt_runtime.duckdb_plugin) and read with
    iceberg_scan of its current metadata file. -#}

{% macro loaded_events(columns) -%}
  {%- set types = fct_events_column_types() -%}
  {%- for column in columns if column not in types -%}
    {{ exceptions.raise_compiler_error("loaded_events: fct_events has no column " ~ column) }}
  {%- endfor -%}
  {%- set node = graph.nodes.get('model.' ~ project_name ~ '.fct_events') if execute else none -%}
  {%- set relation = none -%}
  {%- if node is not none and not flags.FULL_REFRESH -%}
    {%- set relation = adapter.dispatch('loaded_events_source')(node) -%}
  {%- endif -%}
  {%- if relation is none -%}
    (select
      {%- for column in columns %}
      cast(null as {{ types[column] }}) as {{ column }}{{ "," if not loop.last }}
      {%- endfor %}
    where 1 = 0)
  {%- else -%}
    (select {{ columns | join(', ') }} from {{ relation }})
  {%- endif -%}
{%- endmacro %}

{#- fct_events' columns and their types on both engines (for the empty relation). -#}
{% macro fct_events_column_types() -%}
  {{ return({
      'event_id': 'varchar',
      'user_id': 'varchar',
      'event_type': 'varchar',
      'event_ts': 'timestamp',
      'revenue': 'decimal(12, 2)',
      'properties': 'varchar',
      'event_date': 'date',
      'landed_on': 'varchar',
  }) }}
{%- endmacro %}

{#- What to select from: a relation (or table function call), none when the table is missing. -#}
{#- `dbt compile` (the offline check of the Athena SQL) does not ask Glue: it renders the SQL
    of a run where the table exists. -#}
{% macro default__loaded_events_source(node) -%}
  {%- if flags.WHICH == 'compile' -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
  {%- endif -%}
  {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{% macro duckdb__loaded_events_source(node) -%}
  {%- set found = run_query(
      "select lakehouse_iceberg_metadata_location('" ~ node.schema ~ "', '" ~ node.alias ~ "')") -%}
  {%- set location = found.columns[0].values()[0] -%}
  {{ return(none if not location else "iceberg_scan('" ~ location ~ "')") }}
{%- endmacro %}
