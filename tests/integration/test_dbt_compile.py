"""The Athena SQL, checked offline: every model compiles for the athena target, and staging
reads only the interval's raw partitions unless it is a full refresh."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dbt_projects import REQUIRED_VARS

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).parent / "dbt"
MODELS = (
    "stg_raw_event_lines",
    "stg_raw_events",
    "stg_raw_user_lines",
    "stg_raw_users",
    "fct_events",
    "dim_users",
    "daily_metrics",
    "quarantined_events",
    "fct_events_moves",
)
# dbt-athena's incremental merge macro (the package the Lambda image pins).
ATHENA_MERGE = "macros/materializations/models/incremental/merge.sql"


def compile_athena(
    tmp_path: Path, *extra: str, lookback_days: int = 2, **more_vars: object
) -> Path:
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    dbt_vars = {
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
        "raw_bucket": "b",
        **REQUIRED_VARS,
        "lookback_days": lookback_days,
        **more_vars,
    }
    result = subprocess.run(
        [str(DBT), "compile", "--target", "athena", "--no-populate-cache",
         "--project-dir", str(project), "--profiles-dir", str(project),
         "--vars", json.dumps(dbt_vars), *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return project / "target" / "compiled" / "lakehouse" / "models"


def test_every_model_compiles_for_athena_and_staging_prunes_raw_partitions(tmp_path):
    compiled = compile_athena(tmp_path)
    for model in MODELS:
        assert list(compiled.rglob(f"{model}.sql")), f"{model} did not compile"
    for model in ("stg_raw_event_lines", "stg_raw_user_lines"):
        sql = next(compiled.rglob(f"{model}.sql")).read_text()
        assert "dt >= '2026-11-20' and dt < '2026-11-21'" in sql
        assert '"awsdatacatalog"' in sql  # the Glue table the crawler maintains


def test_a_daily_runs_mart_tests_read_its_merge_window_and_the_anomaly_tests_their_days(tmp_path):
    """Daily run of 2026-11-20, lookback 3: fct_events' row tests read the partitions of the
    merge window (11-17..11-21) and nothing else; the anomaly tests bound landed_on as ISO
    text (files outside are skipped by their bounds); with test_whole_tables (after a full
    refresh, and by default) the same tests read the whole table."""
    window = "event_date >= date '2026-11-17' and event_date < date '2026-11-22'"
    daily = compile_athena(tmp_path / "daily", lookback_days=3, test_whole_tables=False)
    whole = compile_athena(tmp_path / "whole", lookback_days=3)
    row_tests = sorted(
        p.name for p in (daily / "marts" / "fct_events.yml").glob("*.sql")
        if not p.name.startswith("volume_anomaly")
    )  # fmt: skip
    assert len(row_tests) == 7  # not_null x5, unique, accepted_values
    for name in row_tests:
        assert window in (daily / "marts" / "fct_events.yml" / name).read_text(), name
        assert "event_date >=" not in (whole / "marts" / "fct_events.yml" / name).read_text()
    for compiled in (daily, whole):
        volume = next((compiled / "marts" / "fct_events.yml").glob("volume_anomaly*.sql"))
        assert "cast(landed_on as varchar) >= '2026-11-06'" in volume.read_text()
        freshness = next((compiled / "staging").rglob("raw_freshness*.sql"))
        assert "cast(landed_on as varchar) >= '2026-11-13'" in freshness.read_text()


def test_full_refresh_reads_every_raw_partition(tmp_path):
    compiled = compile_athena(tmp_path, "--full-refresh")
    sql = next(compiled.rglob("stg_raw_event_lines.sql")).read_text()
    assert "dt >=" not in sql and "1 = 1" in sql


def test_a_daily_merge_writes_its_window_and_matches_event_ids_across_the_table(tmp_path):
    """Daily run of 2026-11-20 with a 3-day lookback: sources are read for dt=2026-11-20 only
    (staging, above) and fct_events takes only events of days 11-17..11-21 (max_future_days
    1); the gold model recomputes those days from fct_events. But fct_events' MERGE matches
    event_id across the
    whole table (no incremental_predicates, which dbt-athena puts in the MERGE's ON clause):
    a redelivery stamped on another day is found wherever its first row lies."""
    compiled = compile_athena(tmp_path, lookback_days=3)
    manifest = json.loads((compiled.parents[2] / "manifest.json").read_text())
    configs = {n["name"]: n["config"] for n in manifest["nodes"].values() if n["name"] in MODELS}
    for model in ("fct_events", "daily_metrics"):
        assert configs[model]["materialized"] == "incremental"
        assert configs[model]["incremental_strategy"] == "merge"
        assert configs[model]["unique_across_table"] is True, model
        assert configs[model].get("incremental_predicates") is None, model
    assert configs["fct_events"]["partitioned_by"] == ["event_date"]
    assert configs["fct_events"]["merge_window_column"] == "event_date"
    gold = next(compiled.rglob("daily_metrics.sql")).read_text()
    assert "(event_date >= date '2026-11-17' and event_date < date '2026-11-22')" in gold
    facts = next(compiled.rglob("fct_events.sql")).read_text()
    assert "between date_add('day', -3, cast(landed_on as date))" in facts
    # A model that bounds its match to some partitions never claims to be unique across the
    # table (the local materialization refuses the pair; Athena would silently bound it).
    for name, config in configs.items():
        assert not (config.get("unique_across_table") and config.get("incremental_predicates")), (
            name
        )


def test_athena_merge_on_clause_is_the_keys_plus_incremental_predicates_only():
    """What the whole-table match of fct_events rests on: the pinned dbt-athena's Iceberg MERGE
    joins target and source on the unique key and adds only incremental_predicates to its ON
    clause (rendered here from the package's own macro text); with none, any row can match."""
    import dbt.include.athena
    import jinja2

    merge = (Path(dbt.include.athena.__file__).parent / ATHENA_MERGE).read_text()
    on_clause = merge[merge.index("on (") : merge.index("{% if delete_condition")]
    template = jinja2.Environment().from_string(on_clause)

    def rendered(predicates):
        text = template.render(unique_key_cols=["event_id"], incremental_predicates=predicates)
        return " ".join(text.split())

    assert rendered(None) == "on (target.event_id = src.event_id )"
    assert rendered(["target.event_date >= date '2026-11-18'"]) == (
        "on (target.event_id = src.event_id and ( target.event_date >= date '2026-11-18' ) )"
    )


def test_the_moves_of_a_merge_are_read_before_it_and_recomputed_by_the_gold_model(tmp_path):
    """fct_events_moves reads the existing fct_events table (no ref: it runs before it) and the
    run's staging; fct_events waits for it; daily_metrics recomputes the days it names."""
    compiled = compile_athena(tmp_path)
    manifest = json.loads((compiled.parents[2] / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    moves = nodes["fct_events_moves"]
    assert moves["config"]["materialized"] == "table" and moves["config"]["meta"]["run_scoped"]
    assert moves["depends_on"]["nodes"] == ["model.lakehouse.stg_raw_events"]
    assert "model.lakehouse.fct_events_moves" in nodes["fct_events"]["depends_on"]["nodes"]
    sql = next(compiled.rglob("fct_events_moves.sql")).read_text()
    assert (
        'target as (select event_id, event_date, landed_on from "awsdatacatalog".'
        '"lakehouse_dev_curated"."fct_events")' in sql
    )
    assert "(src.landed_on <= target.landed_on)" in sql  # fct_events' update_condition
    gold = next(compiled.rglob("daily_metrics.sql")).read_text()
    assert '"lakehouse_dev_curated"."fct_events_moves__dev"' in gold
    # a day left without events: its row is deleted, never inserted (dbt-athena's merge configs)
    config = nodes["daily_metrics"]["config"]
    assert (config["delete_condition"], config["insert_condition"]) == (
        "src.events = 0",
        "src.events > 0",
    )


def test_dbt_never_falls_back_on_a_run_option_of_its_own(tmp_path):
    """lookback_days and max_bad_row_share come only from the run request (validated against
    contracts/run_request.json), raw_datasets (the landing schema) only from
    contracts/sources.json: dbt without one refuses to compile rather than guess."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    for option in REQUIRED_VARS:
        given = {k: v for k, v in REQUIRED_VARS.items() if k != option}
        result = subprocess.run(
            [str(DBT), "compile", "--target", "athena", "--no-populate-cache",
             "--project-dir", str(project), "--profiles-dir", str(project),
             "--select", "stg_raw_event_lines bad_row_share",
             "--vars", json.dumps(given)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode != 0, option
        assert f"Required var '{option}' not found" in result.stdout, result.stdout[-2000:]


def test_athena_reads_raw_events_as_lines_and_validates_them_with_trino_json(tmp_path):
    compiled = compile_athena(tmp_path)
    lines = next(compiled.rglob("stg_raw_event_lines.sql")).read_text()
    # the Glue lines table (terraform/modules/catalog), the file from "$path", no line numbers
    assert '"awsdatacatalog"."lakehouse_dev_raw"."events_lines"' in lines
    assert '"$path" as source_file, cast(null as bigint) as line_number' in lines
    # Trino's JSON functions, each guarded so that a bad line is a value, never a query error
    assert "try(json_parse(line))" in lines
    assert "document as members" in lines  # Trino's document is parsed once already
    assert "json_extract_scalar(members, '$.event_id')" in lines
    # times: one ISO-8601 profile checked by a pattern and rewritten before Trino's cast (its
    # from_iso8601_timestamp accepts more than DuckDB and keeps only milliseconds)
    assert "from_iso8601" not in lines
    assert "as timestamp(6) with time zone)) at time zone 'UTC' as timestamp(6))" in lines
    assert "regexp_extract(event_ts_text, '^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[Tt ]" in lines
    assert "length(to_utf8(line)) as line_bytes" in lines
    assert "line_bytes <= 65536" in lines
    assert "not in ('page_view', 'add_to_cart', 'purchase', 'login', 'signup')" in lines
    assert "event_ts < timestamp '2000-01-01'" in lines
    # held back, not merged: older than the lookback, or stamped after max_future_days
    assert "< date_add('day', -2, cast(landed_on as date))" in lines
    assert "> date_add('day', 1, cast(landed_on as date))" in lines
    # strict JSON and line-level encoding checks, the same rule as DuckDB's (Java regex)
    assert "strpos(line, 'NaN') > 0 or strpos(line, 'Infinity') > 0" in lines
    assert "regexp_like(line, ',\\s*[}\\]]')" in lines
    assert "strpos(line, chr(65533)) = 0" in lines
    events = next(compiled.rglob("stg_raw_events.sql")).read_text()
    assert "where disposition = 'accepted'" in events


def test_quarantined_events_is_an_iceberg_merge_and_the_marts_check_the_bad_share(tmp_path):
    compiled = compile_athena(tmp_path)
    manifest = json.loads((compiled.parents[2] / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    config = nodes["quarantined_events"]["config"]
    assert (config["materialized"], config["incremental_strategy"]) == ("incremental", "merge")
    assert config["table_type"] == "iceberg" and config["unique_key"] == "quarantine_id"
    assert config["partitioned_by"] == ["landed_on"]
    assert config["incremental_predicates"] == [
        "target.landed_on >= date '2026-11-18'",
        "target.landed_on < date '2026-11-22'",
    ]
    sql = next(compiled.rglob("quarantined_events.sql")).read_text()
    assert "lower(to_hex(md5(to_utf8(" in sql and "substr(line, 1, 4096) as raw_line" in sql
    # The bad-row gate is a test on the run's parse and the quarantine; the marts it guards
    # descend from both, so dbt build runs it before them and skips them when it fails.
    gate = manifest["nodes"]["test.lakehouse.bad_row_share"]
    assert gate["config"]["severity"].lower() == "error" and gate["tags"] == ["gate"]
    assert set(gate["depends_on"]["nodes"]) == {
        "model.lakehouse.quarantined_events",
        "model.lakehouse.stg_raw_event_lines",
    }
    for mart in ("fct_events", "dim_users"):
        assert not nodes[mart]["config"]["pre-hook"], mart
        assert "model.lakehouse.quarantined_events" in nodes[mart]["depends_on"]["nodes"], mart


def test_values_from_outside_are_inlined_as_escaped_literals(tmp_path):
    """A run id or an object key holding a quote stays one string literal on Athena."""
    key = "s3://b/events/dt=2026-11-20/o'brien.jsonl.gz"
    unreadable = {"events": [{"source_file": key, "landed_on": "2026-11-20",
                                    "detail": "compressed ('gzip')", "bytes": 10}]}  # fmt: skip
    compiled = compile_athena(
        tmp_path, run_id="manual__it's", unreadable_objects=unreadable, run_key="r1"
    )
    quarantine = next(compiled.rglob("quarantined_events.sql")).read_text()
    assert "'manual__it''s' as run_id" in quarantine
    lines = next(compiled.rglob("stg_raw_event_lines.sql")).read_text()
    assert "where \"$path\" not in ('s3://b/events/dt=2026-11-20/o''brien.jsonl.gz')" in lines
    assert "'s3://b/events/dt=2026-11-20/o''brien.jsonl.gz', 'compressed (''gzip'')'" in lines
