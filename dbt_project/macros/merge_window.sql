{#- Which event days a run may write, the one rule both targets follow.

    A raw line landed on day L (its dt partition) is accepted when its event day is within
    [L - lookback_days, L]: late events up to `lookback_days` old are merged into their own
    day; anything later, or stamped in the future, stays in staging and is reported by the
    `events_outside_lookback` test instead. Because the rule depends only on the line itself,
    daily runs, reruns, backfills and a full refresh all accept exactly the same rows.

    A daily run therefore writes only the partitions of its merge window,
    [interval_start - lookback_days, interval_end): that is what the marts' merges scan on
    the target side (incremental_predicates on Athena, the pyiceberg scan locally). -#}

{% macro lookback_days() -%}
  {%- set days = var('lookback_days') | int -%}
  {%- if days < 0 or days > 90 -%}
    {{ exceptions.raise_compiler_error("lookback_days must be between 0 and 90, got " ~ days) }}
  {%- endif -%}
  {{ return(days) }}
{%- endmacro %}

{% macro merge_window() -%}
  {%- set days = interval_days() -%}
  {%- set start = modules.datetime.date.fromisoformat(days[0]) - modules.datetime.timedelta(days=lookback_days()) -%}
  {{ return({'start': start.isoformat(), 'end': var('interval_end')[:10]}) }}
{%- endmacro %}

{#- The merge's target-side predicates (dbt-athena `incremental_predicates`). -#}
{% macro merge_window_predicates(column) -%}
  {%- set window = merge_window() -%}
  {{ return([column ~ " >= date '" ~ window.start ~ "'", column ~ " < date '" ~ window.end ~ "'"]) }}
{%- endmacro %}

{#- Source-side filter: only rows of the merge window (all of them on a full refresh). -#}
{% macro in_merge_window(column) -%}
  {%- if flags.FULL_REFRESH -%}
    1 = 1
  {%- else -%}
    {%- set window = merge_window() -%}
    {{ column }} >= date '{{ window.start }}' and {{ column }} < date '{{ window.end }}'
  {%- endif -%}
{%- endmacro %}

{#- The acceptance rule above, for one row. -#}
{% macro within_lookback(event_day, landed_on) -%}
  {{ event_day }} between {{ add_days('cast(' ~ landed_on ~ ' as date)', -lookback_days()) }}
    and cast({{ landed_on }} as date)
{%- endmacro %}
