{{ config(severity='warn') }}

-- Raw events of this run that no mart will take: stamped more than `lookback_days` before
-- the day they landed, or in the future. They stay in the raw zone untouched; rerun their
-- landing day with a larger `lookback_days` (see docs/runbooks.md) to merge them.
select event_id, event_date, landed_on
from {{ ref('stg_raw_events') }}
where event_date is not null
  and not ({{ within_lookback('event_date', 'landed_on') }})
