{#- The volume rule (tests/generic/volume_anomaly.sql explains it): one row per anomalous day
    of `days` (YYYY-MM-DD), given `per_day_sql`, a query of (volume_day date, row_count) with a
    row per day that holds rows. Kept apart from the test so it can be checked on made-up
    counts (tests/integration/test_anomaly_rules.py). -#}
{% macro volume_anomalies(per_day_sql, days, history_days, min_history_days, sensitivity,
                          min_change) -%}
with per_day as (
    {{ per_day_sql }}
),

checked as (
    {%- for day in days %}
    select date '{{ day }}' as volume_day{{ ' union all' if not loop.last else '' }}
    {%- endfor %}
),

history as (
    select
        checked.volume_day,
        count(per_day.volume_day) as history_day_count,
        avg(cast(per_day.row_count as double)) as mean_rows,
        stddev_samp(cast(per_day.row_count as double)) as stddev_rows
    from checked
    left join per_day
        on per_day.volume_day >= {{ add_days('checked.volume_day', -(history_days | int)) }}
        and per_day.volume_day < checked.volume_day
    group by checked.volume_day
),

compared as (
    select
        history.volume_day,
        cast(coalesce(per_day.row_count, 0) as bigint) as row_count,
        history.history_day_count,
        history.mean_rows,
        coalesce(history.stddev_rows, 0) as stddev_rows
    from history
    left join per_day on per_day.volume_day = history.volume_day
)

select
    cast(volume_day as varchar) as volume_day,
    row_count,
    history_day_count,
    round(mean_rows, 1) as mean_rows,
    round(stddev_rows, 1) as stddev_rows
from compared
where history_day_count >= {{ min_history_days | int }}
    and abs(row_count - mean_rows) > {{ sensitivity | float }} * stddev_rows
    and abs(row_count - mean_rows) > {{ min_change | float }} * mean_rows
{%- endmacro %}
