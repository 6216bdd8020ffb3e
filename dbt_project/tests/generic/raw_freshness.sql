{#- Freshness: warns when the latest raw partition (dt=) delivered is later than the run's
    interval expects: lag_days, the days between the latest landing day known and the
    interval's last day, above max_lag_days (default: the var raw_freshness_max_lag_days, 0:
    the interval's last day must have landed). Also warns when nothing has landed (see below).

    Our own test rather than Elementary's `freshness_anomalies` (which needs the elementary
    package, not installable here). It reads no raw file (a run reads each raw file once, in
    its staging parse): the latest landing is the later of the run's parse (`model`, the
    interval's lines, quarantined ones too) and what earlier runs merged (`history_model`:
    fct_events). A backfill of an old day sees later landings there, so its lag is negative and
    it passes.
    Of the history it reads only the landings since `report_days` before the earliest day that
    would pass (compared as ISO text, so both engines skip the files whose landed_on bounds are
    older): its cost does not grow with the days stored. A landing older than that is not
    looked for: latest_partition and lag_days are then null, and checked_from says since when
    nothing landed. -#}
{% test raw_freshness(model, column_name, history_model, max_lag_days=none, report_days=7) %}
{#- Elementary's test_sub_type for its freshness test (dbt_runtime/elementary.py). -#}
{{ config(severity=var('anomaly_severity'), meta={'anomaly': 'freshness'}) }}
{%- set max_lag = var('raw_freshness_max_lag_days') if max_lag_days is none else max_lag_days -%}
{%- set expected = interval_days()[-1] -%}
{%- set checked_from = (modules.datetime.date.fromisoformat(expected)
    - modules.datetime.timedelta(days=(max_lag | int) + (report_days | int))).isoformat() -%}
with landings as (
    select max(cast({{ column_name }} as date)) as landed_day from {{ model }}
    union all
    select max(cast({{ column_name }} as date)) as landed_day from {{ history_model }}
    where cast({{ column_name }} as varchar) >= '{{ checked_from }}'
),

latest as (
    select max(landed_day) as latest_partition from landings
)

select
    cast(latest_partition as varchar) as latest_partition,
    '{{ expected }}' as expected_partition,
    date_diff('day', latest_partition, date '{{ expected }}') as lag_days,
    '{{ checked_from }}' as checked_from
from latest
where latest_partition is null
    or date_diff('day', latest_partition, date '{{ expected }}') > {{ max_lag | int }}
{% endtest %}
