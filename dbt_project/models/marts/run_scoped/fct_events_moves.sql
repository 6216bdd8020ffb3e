{#- The rows of fct_events that this run's merge is about to move to another event day: an
    event already loaded on one day (its current row) and redelivered, stamped on another day,
    by a landing that wins under fct_events' update_condition (an earlier landing, or a rerun
    of the same landing day). Read before fct_events merges (fct_events depends on this model;
    it reads the table through loaded_events(), not ref, which would be a cycle), so
    daily_metrics can also recompute the days those rows leave, which may lie outside the run's
    merge window. Usually empty. A table of the run (run-scoped, like staging), dropped with
    the run's other relations when it succeeds; empty on a full refresh (nothing is loaded).

    Cost: a scan of event_id, event_date and landed_on of the whole fct_events table (the same
    columns fct_events' own merge matches on). -#}
{%- set facts = graph.nodes.get('model.' ~ project_name ~ '.fct_events') if execute else none -%}
{%- set wins = (facts.config.get('update_condition') if facts is not none else none) or 'true' -%}
with src as (
    -- what fct_events merges: the run's accepted events (see fct_events.sql)
    select event_id, event_date, landed_on
    from {{ ref('stg_raw_events') }}
    where {{ within_lookback('event_date', 'landed_on') }}
),

target as {{ loaded_events(['event_id', 'event_date', 'landed_on']) }}

select distinct
    target.event_id,
    target.event_date as from_event_date,
    target.landed_on as from_landed_on,
    src.event_date as to_event_date,
    src.landed_on as to_landed_on
from target
inner join src on target.event_id = src.event_id
where target.event_date <> src.event_date
    and ({{ wins }})
