{#- The landing schema: each raw dataset's declared fields (contracts/sources.json `datasets`,
    which the ingest function checks API records against). dbt keeps no copy: the dbt runtime
    passes the declaration as the var `raw_datasets` on every invocation (by hand: --vars
    '{"raw_datasets": <the file's datasets>, ...}'), and staging derives from it which members
    of a line it reads, which are required, and how each is typed and checked. What is not a
    fact about the raw data stays in the models: normalisation (lower-cased event types), rules
    the user sets as vars (event_types, min_event_ts, lookback) and the wording of details. -#}

{#- The JSON kind (raw_json.sql's json_kind) each declared type must have. -#}
{% macro landing_json_kinds() -%}
  {{ return({'string': 'string', 'timestamp': 'string', 'number': 'number', 'decimal': 'number',
             'boolean': 'boolean', 'object': 'object', 'array': 'array'}) }}
{%- endmacro %}

{#- The declared fields of `dataset` in order: [{name, type, kind, required, null_reason,
    precision, scale, minimum}]. -#}
{% macro landing_fields(dataset) -%}
  {%- set declared = var('raw_datasets', none) -%}
  {%- if declared is none -%}
    {{ exceptions.raise_compiler_error("Required var 'raw_datasets' not found: the landing schema, contracts/sources.json's datasets, which the dbt runtime passes on every invocation (dbt_invocation.dbt_vars); by hand, pass it with --vars") }}
  {%- endif -%}
  {%- if dataset not in declared -%}
    {{ exceptions.raise_compiler_error("raw dataset " ~ dataset ~ " is not declared in the var raw_datasets (contracts/sources.json datasets)") }}
  {%- endif -%}
  {%- set kinds = landing_json_kinds() -%}
  {%- set fields = [] -%}
  {%- for name, spec in declared[dataset]['fields'].items() -%}
    {%- if spec['type'] not in kinds -%}
      {{ exceptions.raise_compiler_error("raw dataset " ~ dataset ~ ", field " ~ name ~ ": type " ~ spec['type'] ~ " is not one staging checks (" ~ kinds.keys() | join(', ') ~ ")") }}
    {%- endif -%}
    {%- do fields.append({
        'name': name, 'type': spec['type'], 'kind': kinds[spec['type']],
        'required': spec.get('required', false), 'null_reason': spec.get('null_reason'),
        'precision': spec.get('precision'), 'scale': spec.get('scale'), 'minimum': spec.get('minimum')}) -%}
  {%- endfor -%}
  {{ return(fields) }}
{%- endmacro %}

{#- One declared field of `dataset` by name (a model that outputs it in a shape of its own). -#}
{% macro landing_field(dataset, name) -%}
  {%- for field in landing_fields(dataset) if field.name == name -%}
    {{ return(field) }}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error("raw dataset " ~ dataset ~ " declares no field " ~ name) }}
{%- endmacro %}

{#- The SQL type a typed field is parsed to (timestamps and decimals; the rest stay text). -#}
{% macro landing_sql_type(field) -%}
  {%- if field.type == 'decimal' -%}decimal({{ field.precision }}, {{ field.scale }})
  {%- elif field.type == 'timestamp' -%}timestamp
  {%- else -%}varchar
  {%- endif -%}
{%- endmacro %}

{#- The select-list expression reading every declared member of raw_documents' `document` at
    once (raw_json.sql's json_members): raw_documents' `members`. -#}
{% macro landing_members(fields) -%}
  {{ json_members('document', fields | map(attribute='name') | list) }}
{%- endmacro %}

{#- Select-list items over raw_documents' `members`, for every field: <name>_kind (json_kind),
    and <name>_text (a scalar's text) or <name> (an object's or array's JSON text). -#}
{% macro landing_field_columns(fields) -%}
  {%- set members = 'members' -%}
  {%- set keys = fields | map(attribute='name') | list -%}
  {%- for field in fields %}
        {{ json_kind(members, keys, field.name) }} as {{ field.name }}_kind,
        {%- if field.kind in ('object', 'array') %}
        {{ json_member_text(members, keys, field.name) }} as {{ field.name }}
        {%- else %}
        {{ json_scalar_text(members, keys, field.name) }} as {{ field.name }}_text
        {%- endif %}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}

{#- Select-list items (each after a comma) typing the fields that have a SQL type of their own:
    a timestamp as <name> (null when not ISO-8601), a decimal as <name> (null when it does not
    fit) and <name>_value (the number as read, to tell a rounded value from the given one). -#}
{% macro landing_typed_columns(fields) -%}
  {%- for field in fields %}
    {%- if field.type == 'timestamp' %},
        {{ try_parse_iso_timestamp(field.name ~ '_text') }} as {{ field.name }}
    {%- elif field.type == 'decimal' %},
        try_cast({{ field.name }}_text as double) as {{ field.name }}_value,
        try_cast(try_cast({{ field.name }}_text as double) as {{ landing_sql_type(field) }}) as {{ field.name }}
    {%- endif %}
  {%- endfor %}
{%- endmacro %}

{#- The declared fields' reasons, in this order, after raw_line_problems (case branches):
      missing_required_field  a required field missing, null or (text) empty or blank
      <null_reason>           a required field whose null has a reason of its own
      wrong_type              a field of another JSON kind, a timestamp that is not ISO-8601
      invalid_value           a decimal that does not fit exactly, or below its minimum -#}
{% macro landing_field_problems(fields) -%}
  {%- set missing = [] -%}
  {%- for field in fields if field.required -%}
    {%- do missing.append(field.name ~ "_kind " ~ ("= 'missing'" if field.null_reason else "in ('missing', 'null')")) -%}
  {%- endfor -%}
  {%- for field in fields if field.required and field.kind == 'string' -%}
    {%- do missing.append(empty_text(field.name ~ '_text')) -%}
  {%- endfor -%}
  {%- if missing %}
            when {{ missing | join('\n                or ') }}
                then 'missing_required_field'
  {%- endif %}
  {%- for field in fields if field.null_reason %}
            when {{ field.name }}_kind = 'null' then '{{ field.null_reason }}'
  {%- endfor %}
  {%- set wrong = [] -%}
  {%- for field in fields -%}
    {%- do wrong.append(field.name ~ "_kind not in ('missing', 'null', '" ~ field.kind ~ "')") -%}
  {%- endfor -%}
  {%- for field in fields if field.type == 'timestamp' -%}
    {%- do wrong.append("(" ~ field.name ~ "_kind = 'string' and " ~ field.name ~ " is null)") -%}
  {%- endfor %}
            when {{ wrong | join('\n                or ') }}
                then 'wrong_type'
  {%- for field in fields if field.type == 'decimal' %}
            when {{ field.name }}_kind = 'number' and (
                {{ field.name }} is null
                {%- if field.minimum is not none %} or {{ field.name }}_value < {{ field.minimum }}{% endif %}
                or cast({{ field.name }} as double) <> {{ field.name }}_value)
                then 'invalid_value'
  {%- endfor %}
{%- endmacro %}

{#- The parts of a wrong_type detail (each null unless it applies): a field of another kind,
    and a timestamp field's text that is not ISO-8601. -#}
{% macro landing_kind_problem(field) -%}
  case when {{ field.name }}_kind not in ('missing', 'null', '{{ field.kind }}')
                        then '{{ field.name }} is a ' || {{ field.name }}_kind || ', not {{ "an" if field.kind[0] in "aeiou" else "a" }} {{ field.kind }}' end
{%- endmacro %}
{% macro landing_time_problem(field) -%}
  case when {{ field.name }}_kind = 'string' and {{ field.name }} is null
                        then '{{ field.name }} "' || {{ field.name }}_text || '" is not an ISO-8601 time ({{ iso_timestamp_profile() }})' end
{%- endmacro %}

{#- The invalid_value detail: which decimal, and why (never rounded). -#}
{% macro landing_value_problem_detail(fields) -%}
  {%- set parts = [] -%}
  {%- for field in fields if field.type == 'decimal' -%}
    {%- set name = field.name -%}
    {%- set scale_words = ['no', 'one', 'two', 'three', 'four', 'five', 'six'] -%}
    {%- set part -%}
                case
                    when {{ name }}_kind <> 'number' then null
                    {%- if field.minimum is not none %}
                    when {{ name }}_value < {{ field.minimum }} then '{{ name }} ' || {{ name }}_text || ' is {{ "negative" if field.minimum == 0 else "less than " ~ field.minimum }}'
                    {%- endif %}
                    when {{ name }} is null then '{{ name }} ' || {{ name }}_text || ' does not fit {{ landing_sql_type(field) }}'
                    when cast({{ name }} as double) <> {{ name }}_value then '{{ name }} ' || {{ name }}_text || ' has more than {{ scale_words[field.scale] if field.scale < 7 else field.scale }} decimals{{ " (cents)" if field.scale == 2 }}; '
                        || 'it is never rounded'
                end
    {%- endset -%}
    {%- do parts.append(part) -%}
  {%- endfor -%}
  {%- if parts | length == 1 -%}
    {{ parts[0] }}
  {%- else -%}
    concat_ws('; ', {{ parts | join(', ') }})
  {%- endif -%}
{%- endmacro %}
