{#- Volume anomaly: warns when a day of the run's interval holds far more or far fewer rows of
    `model` (counted per day of `column_name`) than the model's own trailing history.

    Our own test rather than Elementary's `volume_anomalies`: that one needs the elementary dbt
    package (its data-monitoring tables and adapter macros), which cannot be installed here.

    The rule (macros/anomalies.sql, volume_anomalies), per checked day D:
    - history: the days in [D - history_days, D) that hold rows; a day without rows is not
      history (its own run warned), so an outage does not widen the band;
    - no verdict before min_history_days such days: too little to call anything unusual;
    - anomalous when D's count (0 when D has no rows) lies outside mean ± sensitivity·stddev
      of the history AND differs from the mean by more than min_change of it: Elementary's
      z-score with its `ignore_small_changes`, so a perfectly steady history (stddev 0) does
      not flag a change of one row.
    Every argument defaults to a var of dbt_project.yml (`--vars` by hand), and one test can
    take its own in its YAML `arguments`. -#}
{% test volume_anomaly(model, column_name, history_days=none, min_history_days=none,
                       sensitivity=none, min_change=none) %}
{#- Elementary's test_sub_type for its volume test: the test-executor records this test as an
    anomaly_detection of that kind (dbt_runtime/elementary.py). -#}
{{ config(severity=var('anomaly_severity'), meta={'anomaly': 'row_count'}) }}
{%- set history_days = var('volume_anomaly_history_days') if history_days is none else history_days -%}
{%- set days = interval_days() -%}
{%- set first = modules.datetime.date.fromisoformat(days[0])
    - modules.datetime.timedelta(days=history_days | int) -%}
{%- set day = 'cast(' ~ column_name ~ ' as date)' -%}
{%- set end = var('interval_end')[:10] -%}
{#- The same bounds on the column as ISO text too: when it holds ISO days (landed_on), both
    engines skip the files whose bounds are outside them, so the test reads the days it checks,
    not the table's history; on a date or timestamp column they hold as well. -#}
{%- set text = 'cast(' ~ column_name ~ ' as varchar)' -%}
{%- set per_day -%}
    select {{ day }} as volume_day, count(*) as row_count
    from {{ model }}
    where {{ text }} >= '{{ first.isoformat() }}' and {{ text }} < '{{ end }}'
        and {{ day }} >= date '{{ first.isoformat() }}' and {{ day }} < date '{{ end }}'
    group by 1
{%- endset -%}
{{ volume_anomalies(
    per_day,
    days,
    history_days,
    var('volume_anomaly_min_history_days') if min_history_days is none else min_history_days,
    var('volume_anomaly_sensitivity') if sensitivity is none else sensitivity,
    var('volume_anomaly_min_change') if min_change is none else min_change,
) }}
{% endtest %}
