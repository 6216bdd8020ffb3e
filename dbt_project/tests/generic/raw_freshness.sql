{#- Freshness: warns when the latest raw partition (dt=) delivered is later than the run's
    interval expects: lag_days, the days between the latest landing day known and the
    interval's last day, above max_lag_days (default: the var raw_freshness_max_lag_days, 0:
    the interval's last day must have landed). Also warns when nothing has ever landed.

    Our own test rather than Elementary's `freshness_anomalies` (which needs the elementary
    package, not installable here). It reads no raw file (a run reads each raw file once, in
    its staging parse): the latest landing is the later of the run's parse (`model`, the
    interval's lines, quarantined ones too) and what earlier runs merged (`history_model`:
    fct_events, whose landed_on column it scans, on Athena the whole column). A backfill of an
    old day sees later landings there, so its lag is negative and it passes. -#}
{% test raw_freshness(model, column_name, history_model, max_lag_days=none) %}
{#- Elementary's test_sub_type for its freshness test (dbt_runtime/elementary.py). -#}
{{ config(severity=var('anomaly_severity'), meta={'anomaly': 'freshness'}) }}
{%- set max_lag = var('raw_freshness_max_lag_days') if max_lag_days is none else max_lag_days -%}
{%- set expected = interval_days()[-1] -%}
with landings as (
    select max(cast({{ column_name }} as date)) as landed_day from {{ model }}
    union all
    select max(cast({{ column_name }} as date)) as landed_day from {{ history_model }}
),

latest as (
    select max(landed_day) as latest_partition from landings
)

select
    cast(latest_partition as varchar) as latest_partition,
    '{{ expected }}' as expected_partition,
    date_diff('day', latest_partition, date '{{ expected }}') as lag_days
from latest
where latest_partition is null
    or date_diff('day', latest_partition, date '{{ expected }}') > {{ max_lag | int }}
{% endtest %}
