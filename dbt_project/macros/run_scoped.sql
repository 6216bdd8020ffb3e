{#- Run-scoped relations: a model whose config has `meta: {run_scoped: true}` (the staging
    layer) is built under a name that carries the run's key, `<model>__<run_key>`, so
    concurrent runs of different intervals each read and write only their own, on Athena (one
    Glue table or view per run) as on DuckDB. Every ref() resolves to the same run's relation
    because the key is a var of the invocation. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- set base = default__generate_alias_name(custom_alias_name, node) | trim -%}
  {%- if node is not none and (node.config.meta or {}).get('run_scoped') -%}
    {{ base }}__{{ run_key() }}
  {%- else -%}
    {{ base }}
  {%- endif -%}
{%- endmacro %}

{#- The run key: short, lowercase, [a-z0-9_] (a valid Glue, Athena and DuckDB name part). -#}
{% macro run_key() -%}
  {%- set key = var('run_key') | string -%}
  {%- if not modules.re.match('^[a-z0-9_]{1,40}$', key) -%}
    {{ exceptions.raise_compiler_error("run_key must be 1-40 characters of [a-z0-9_], got '" ~ key ~ "'") }}
  {%- endif -%}
  {{ return(key) }}
{%- endmacro %}

{#- dbt run-operation drop_run_relations: drop this run's run-scoped relations once the run has
    succeeded (the test-executor calls it). A failed run keeps them: its redrive resumes from
    them instead of reading raw again. -#}
{% macro drop_run_relations() -%}
  {%- set dropped = [] -%}
  {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and (node.config.meta or {}).get('run_scoped') -%}
    {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
    {%- if relation is not none -%}
      {%- do adapter.drop_relation(relation) -%}
      {%- do dropped.append(relation.render()) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ log("dropped run-scoped relations: " ~ (dropped | join(", ") or "none"), info=true) }}
{%- endmacro %}
