{#- Fails the model it guards (a pre-hook of the marts that read raw data) when the share of
    the interval's raw event lines that were quarantined exceeds `max_bad_row_share`.

    Why a pre-hook of the marts, after quarantined_events: the quarantine rows are written
    first (the guarded marts depend on quarantined_events), so the user can see why, and the
    check raises before the guarded mart writes anything, so the marts keep their previous
    snapshot; what is built from them (daily_metrics) is skipped by dbt. It is plain dbt
    (run_query + raise_compiler_error), so it works the same on Athena and DuckDB. A dbt test
    would run after the marts were merged; on-run-start would run before the quarantine rows
    are written. -#}
{% macro assert_bad_row_share() -%}
  {%- if not execute -%}
    {{ return('') }}
  {%- endif -%}
  {%- set threshold = var('max_bad_row_share') | float -%}
  {%- if threshold < 0 or threshold > 1 -%}
    {{ exceptions.raise_compiler_error("max_bad_row_share must be between 0 and 1, got " ~ threshold) }}
  {%- endif -%}
  {%- set counts = run_query(
      "select coalesce(reason, '') as reason, count(*) as lines from "
      ~ ref('stg_raw_event_lines') ~ " group by 1 order by 2 desc, 1") -%}
  {%- set by_reason = {} -%}
  {%- set totals = {'all': 0, 'bad': 0} -%}
  {%- for row in counts.rows -%}
    {%- do totals.update({'all': totals['all'] + row[1]}) -%}
    {%- if row[0] -%}
      {%- do by_reason.update({row[0]: row[1]}) -%}
      {%- do totals.update({'bad': totals['bad'] + row[1]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set share = (totals['bad'] / totals['all']) if totals['all'] else 0 -%}
  {%- if share > threshold -%}
    {%- set days = 'every raw day' if flags.FULL_REFRESH else (var('interval_start') ~ ' to ' ~ var('interval_end') ~ ' (end exclusive)') -%}
    {%- set reasons = [] -%}
    {%- for reason, lines in by_reason.items() -%}
      {%- do reasons.append(reason ~ '=' ~ lines) -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "Too many bad raw event lines: " ~ totals['bad'] ~ " of " ~ totals['all']
        ~ " (share " ~ '%.4f' % share ~ ") exceed max_bad_row_share " ~ threshold
        ~ " for landing days " ~ days ~ "; by reason: " ~ reasons | join(', ')
        ~ ". The marts were not changed. The lines are in " ~ ref('quarantined_events')
        ~ " (reason, source_file, line_number, detail, raw_line; see docs/runbooks.md,"
        ~ " 'Inspect quarantined rows'): fix the raw files and rerun the day, or rerun it with a"
        ~ " higher max_bad_row_share.") }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}
