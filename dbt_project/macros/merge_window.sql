{#- Which event days a run may write, the one rule both targets follow.

    A raw line landed on day L (its dt partition) is accepted when its event day is within
    [L - lookback_days, L + max_future_days]: late events up to `lookback_days` old are merged
    into their own day, and so are events stamped up to `max_future_days` ahead (clocks ahead
    of the landing zone's). Any other valid event is held back: a row of quarantined_events
    with its rule (outside_lookback, stamped_after_landing) that a rerun with a wider setting
    merges. Because the rule depends only on the line itself, daily runs, reruns, backfills and
    a full refresh all accept exactly the same rows.

    A daily run therefore writes only the partitions of its merge window,
    [interval_start - lookback_days, interval_end + max_future_days): that is what the marts'
    merges scan on
    the target side (incremental_predicates on Athena, the pyiceberg scan locally). -#}

{#- A run option: validated against contracts/run_request.json before dbt runs. -#}
{% macro lookback_days() -%}
  {{ return(var('lookback_days') | int) }}
{%- endmacro %}

{% macro merge_window() -%}
  {%- set days = interval_days() -%}
  {%- set start = modules.datetime.date.fromisoformat(days[0]) - modules.datetime.timedelta(days=lookback_days()) -%}
  {%- set end = modules.datetime.date.fromisoformat(var('interval_end')[:10]) + modules.datetime.timedelta(days=max_future_days()) -%}
  {{ return({'start': start.isoformat(), 'end': end.isoformat()}) }}
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
    and {{ add_days('cast(' ~ landed_on ~ ' as date)', max_future_days()) }}
{%- endmacro %}

{#- How many days after its landing day an event may be stamped and still be merged (clocks
    ahead, time zones); later ones are held back (stamped_after_landing). -#}
{% macro max_future_days() -%}
  {%- set days = var('max_future_days') | int -%}
  {%- if days < 0 or days > 7 -%}
    {{ exceptions.raise_compiler_error("max_future_days must be between 0 and 7, got " ~ days) }}
  {%- endif -%}
  {{ return(days) }}
{%- endmacro %}

{#- The reasons that hold a valid event back rather than quarantine it as bad input: not
    counted by the bad-row gate, and merged by a rerun with a wider rule. -#}
{#- Quarantine reasons that are not bad input for the bad-row gate: a duplicate is a copy of an
    event that is kept (redeliveries are normal with at-least-once delivery). -#}
{% macro gate_exempt_reasons() -%}
  'duplicate_event_id'
{%- endmacro %}

{% macro held_back_reasons() -%}
  'outside_lookback', 'stamped_after_landing'
{%- endmacro %}
