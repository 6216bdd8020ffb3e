"""docs/runbooks.md, executed: every `sh` block runs against a local stack with Airflow's
scheduler, in the order an operator would meet them, and the marts are checked after each.

Scenario: 4 days of raw data, one of them corrupt (a delivery of garbage lines: too much bad
input for the bad-row threshold). Backfill the 4 days (3 succeed, the corrupt day fails);
inspect its quarantined rows; fix the file; redrive the failed run (it resumes at the failed stage);
recover the backfill (only failed runs are reprocessed, finished days are not rebuilt); rerun
a day twice (marts unchanged); full-refresh fct_events from raw (marts unchanged: the
incremental build equals the rebuild); compact and expire snapshots (marts unchanged).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from local import sample_data
from local.airflow_server import running
from tests import marts
from tests.accounting import assert_accounted
from tests.runbooks import run_section
from tests.stacks import started_stack

# cost: ten DAG runs through the scheduler, plus starting Airflow standalone
pytestmark = [pytest.mark.e2e, pytest.mark.cost(12)]
DAG_ID = "lakehouse_raw_to_curated"
FIRST, LAST = date(2026, 1, 1), date(2026, 1, 4)
DAYS = (LAST - FIRST).days + 1
BROKEN = date(2026, 1, 2)
GARBAGE = 40  # of 300 + 42 lines that day: 11.7%, over the default max_bad_row_share of 5%
RERUN = date(2026, 1, 3)
MARTS = {"fct_events": ("event_id",), "dim_users": ("user_id",), "daily_metrics": ("event_date",)}


def api(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/v2{path}", timeout=30) as response:
        return json.load(response)


def dag_runs(base: str) -> list[dict]:
    return api(base, f"/dags/{DAG_ID}/dagRuns?limit=100&order_by=logical_date")["dag_runs"]


def wait_until(predicate, what: str, timeout_s: float = 1500):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    raise TimeoutError(f"{what} within {timeout_s}s")


def day_of(run: dict) -> date:
    return date.fromisoformat(run["logical_date"][:10])


def fingerprint(lakehouse) -> dict:
    return marts.fingerprint(lakehouse, MARTS)


def executions_by_day(lakehouse, runs: list[dict]) -> Counter:
    """Step Functions executions started for each day's DAG run (named after the run id)."""
    from lakehouse.run_plan import execution_name_base

    sfn = lakehouse.client("stepfunctions")
    arn = lakehouse.resources["state_machine_arn"]
    names = [
        e["name"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for e in page["executions"]
    ]
    counts = Counter()
    for run in runs:
        base = execution_name_base(run["dag_run_id"])
        counts[day_of(run)] += sum(1 for n in names if n.startswith(base + "-t"))
    return counts


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    with started_stack(tmp_path_factory.mktemp("runbook-stack")) as (stack, provisioned, lh):
        s3 = lh.client("s3")
        bucket = provisioned.names.raw_bucket
        day = FIRST
        while day <= LAST:
            sample_data.write_day(s3, bucket, day, events=300, seed=100 + day.day)
            day += timedelta(days=1)
        # A delivery that is mostly garbage (an error page saved instead of the data): bad
        # lines are quarantined, and this many fail the day on the bad-row threshold.
        good = [
            json.dumps(e, separators=(",", ":"))
            for e in sample_data.events_for_day(BROKEN, 5, seed=999, late_share=0)
        ]
        key = f"events/dt={BROKEN}/part-09999.jsonl"
        corrupt = "\n".join(good[:2] + ["<html><body>502 Bad Gateway</body></html>"] * GARBAGE)
        s3.put_object(Bucket=bucket, Key=key, Body=(corrupt + "\n").encode())
        with running(stack) as base:
            yield {
                "stack": stack, "lakehouse": lh, "base": base, "s3": s3, "bucket": bucket,
                "fix": lambda: s3.put_object(Bucket=bucket, Key=key, Body="\n".join(good) + "\n"),
                "fixed_ids": [json.loads(line)["event_id"] for line in good], "key": key,
            }  # fmt: skip


def test_0_unpausing_runs_the_latest_day_even_without_raw_data(scenario):
    base = scenario["base"]
    listed = run_section("Daily operations", scenario["stack"].dir)
    assert "lakehouse_raw_to_curated" in listed

    def scheduled_run_finished():
        runs = [r for r in dag_runs(base) if r["run_type"] == "scheduled"]
        return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

    # The latest day has no raw files: an empty day is zero rows, not a failure.
    runs = wait_until(scheduled_run_finished, "the scheduled run did not finish", 600)
    assert [r["state"] for r in runs] == ["success"]


def test_1_backfill_runs_every_day_and_the_corrupt_day_fails(scenario):
    base, stack_dir = scenario["base"], scenario["stack"].dir
    said = run_section("Backfill a range", stack_dir, FIRST_DAY=str(FIRST), LAST_DAY=str(LAST))
    assert f"Created an Airflow backfill of {DAYS} day(s), {FIRST} .. {LAST}" in said

    def backfill_runs_created():
        return len([r for r in dag_runs(base) if r["run_type"] == "backfill"]) == DAYS

    wait_until(backfill_runs_created, f"the backfill did not create its {DAYS} runs", 300)

    def finished():
        runs = [r for r in dag_runs(base) if r["run_type"] == "backfill"]
        done = len(runs) == DAYS and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    runs = wait_until(finished, f"the {DAYS}-day backfill did not finish")
    states = {day_of(r): r["state"] for r in runs}
    assert states == {
        FIRST + timedelta(days=i): ("failed" if FIRST + timedelta(days=i) == BROKEN else "success")
        for i in range(DAYS)
    }, f"see {stack_dir / 'airflow-server.log'}"
    # Runs at a time (--max-active-runs 3): the DAG runs were active together. (That their
    # executions converge whatever the overlap is tests/e2e/test_parallel_backfill.py's.)
    active = sorted((r["start_date"], r["end_date"]) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(active, active[1:], strict=False)), active
    records = [r for r in scenario["lakehouse"].runs() if r["run_type"] == "backfill"]
    failed = next(r for r in records if r["interval_start"] == str(BROKEN))
    assert failed["status"] == "FAILED" and failed["failed_stage"] == "dbt_marts"
    assert f"Too many bad raw event lines: {GARBAGE} of {300 + GARBAGE + 2}" in failed["cause"]
    assert f"malformed_json={GARBAGE}" in failed["cause"]
    # Every raw line is accounted for, in the failed day's parse too.
    s3, bucket = scenario["s3"], scenario["bucket"]
    for record in records:
        assert_accounted(record, s3, bucket, "dbt_staging")
        if record["status"] == "SUCCEEDED":
            assert_accounted(record, s3, bucket, "dbt_marts")
    broken = failed["stages"]["dbt_staging"]["accounting"]["events"][str(BROKEN)]
    assert (broken["quarantined"], broken["held_back"]) == (GARBAGE, 0)
    scenario["backfill_runs"] = runs


def test_1b_the_quarantined_rows_say_why_the_day_failed(scenario):
    output = run_section("Inspect quarantined rows", scenario["stack"].dir, DAY=str(BROKEN))
    lines = [line for line in output.splitlines() if scenario["key"] in line]
    assert len(lines) == GARBAGE, output
    assert all("malformed_json" in line for line in lines)
    assert {int(line.split()[2]) for line in lines} == set(range(3, GARBAGE + 3))  # line numbers


def test_2_redrive_resumes_the_failed_run_at_its_failed_stage(scenario):
    base, lh = scenario["base"], scenario["lakehouse"]
    scenario["fix"]()
    failed_run = next(r for r in scenario["backfill_runs"] if day_of(r) == BROKEN)
    before = {r["dag_run_id"] for r in dag_runs(base)}
    said = run_section(
        "Redrive a failed run", scenario["stack"].dir, RUN_ID=failed_run["dag_run_id"]
    )

    def redrive_finished():
        new = [r for r in dag_runs(base) if r["dag_run_id"] not in before]
        return new[0] if new and new[0]["state"] in ("success", "failed") else None

    redrive = wait_until(redrive_finished, "the redrive did not finish")
    assert redrive["state"] == "success"
    assert (
        f"Triggered DAG run {redrive['dag_run_id']}, redriving {failed_run['dag_run_id']} "
        f"(day {BROKEN}, failed in dbt_marts)"
    ) in said
    records = {r["run_id"]: r for r in lh.runs()}
    record, original = records[redrive["dag_run_id"]], records[failed_run["dag_run_id"]]
    assert record["redrive_of"] == failed_run["dag_run_id"]
    assert original["redriven_by"] == redrive["dag_run_id"] and original["status"] == "FAILED"
    assert record["resume_from"] == original["failed_stage"]
    interval = (record["interval_start"], record["interval_end"])
    assert interval == (str(BROKEN), str(BROKEN + timedelta(days=1)))
    stages_run = [i["function"] for i in lh.lambda_invocations(record["execution_arn"])]
    assert original["failed_stage"] == "dbt_marts"
    # The completed staging stage was not run again; the run's relations were dropped at the end.
    assert stages_run == [
        "lakehouse-local-dbt-executor",
        "lakehouse-local-test-executor",
        "lakehouse-local-dbt-executor",
    ], stages_run
    assert "dbt_staging" not in record["stages"]
    # The failed run's parse held the garbage file the operator has since replaced: the marts
    # stage read raw again instead of reusing it.
    assert record["stages"]["dbt_marts"]["reparsed"].startswith("the raw objects changed")
    # ...but its views were rebuilt for the redriven day: the fixed delivery was merged
    facts = {f["event_id"]: f for f in lh.table("fct_events").to_pylist()}
    assert all(facts[i]["landed_on"] == str(BROKEN) for i in scenario["fixed_ids"])


def test_3_recovering_the_backfill_reprocesses_only_the_failed_day(scenario):
    base, lh = scenario["base"], scenario["lakehouse"]
    listed = run_section("Recover from a failed backfill", scenario["stack"].dir,
                         FIRST_DAY=str(FIRST), LAST_DAY=str(LAST))  # fmt: skip
    assert f"backfill__{BROKEN + timedelta(days=1)}T06:00:00+00:00" in listed  # the failed run

    def broken_day_succeeded():
        runs = [r for r in dag_runs(base) if r["run_type"] == "backfill"]
        return runs if all(r["state"] == "success" for r in runs) else None

    runs = wait_until(broken_day_succeeded, "the failed day was not reprocessed")
    executions = executions_by_day(lh, runs)
    assert executions[BROKEN] == 2  # the failed attempt and the reprocessed one
    assert all(executions[day_of(r)] == 1 for r in runs if day_of(r) != BROKEN), executions
    scenario["fingerprint"] = fingerprint(lh)


def test_4_every_event_lands_once_in_its_own_day_late_ones_included(scenario):
    lh, s3, bucket = scenario["lakehouse"], scenario["s3"], scenario["bucket"]
    raw = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            raw += [json.loads(line) for line in body.splitlines() if line.strip()]
    facts = lh.table("fct_events").to_pylist()
    assert len(facts) == len({e["event_id"] for e in raw}) == len(raw)
    by_id = {f["event_id"]: f for f in facts}
    late = 0
    for event in raw:
        fact = by_id[event["event_id"]]
        assert str(fact["event_date"]) == event["event_ts"][:10]
        late += str(fact["landed_on"]) != event["event_ts"][:10]
    assert late > 10  # the sample data has late events, so this checked something
    per_day = Counter(e["event_ts"][:10] for e in raw)
    revenue = Counter()
    for e in raw:
        revenue[e["event_ts"][:10]] += Decimal(str(e.get("revenue") or 0))
    metrics = {str(m["event_date"]): m for m in lh.table("daily_metrics").to_pylist()}
    assert {d: m["events"] for d, m in metrics.items()} == dict(per_day)
    assert {d: m["revenue"] for d, m in metrics.items()} == dict(revenue)


def test_5_rerunning_a_day_twice_changes_nothing(scenario):
    base, lh = scenario["base"], scenario["lakehouse"]
    day_run = next(r for r in dag_runs(base) if r["run_type"] == "backfill" and day_of(r) == RERUN)
    run_id = day_run["dag_run_id"]
    for attempt in range(2):
        before = {r["run_id"]: r for r in lh.runs()}[run_id]
        said = run_section("Rerun a day", scenario["stack"].dir, DAY=str(RERUN))
        # It says which run of which day it cleared, and that run is the day's backfill run.
        assert f"Cleared day {RERUN}'s latest run {run_id} (SUCCEEDED)" in said, said

        def rerun_finished(earlier: str = before["started_at"]):
            record = {r["run_id"]: r for r in lh.runs()}[run_id]
            done = record["started_at"] > earlier and record["status"] != "RUNNING"
            return record if done else None

        # Read back from the run ledger: the day's run ran again, as its next try.
        record = wait_until(rerun_finished, "the rerun did not finish")
        assert record["status"] == "SUCCEEDED", record
        assert record["interval_start"] == str(RERUN)
        assert record["execution_arn"].endswith(f"-t{attempt + 2}"), record["execution_arn"]
        assert fingerprint(lh) == scenario["fingerprint"], f"marts changed on rerun {attempt + 1}"
    runs = [r for r in dag_runs(base) if r["run_type"] == "backfill"]
    assert executions_by_day(lh, runs)[RERUN] == 3


def test_5b_rerunning_a_day_without_a_run_says_so_and_does_nothing(scenario):
    lh = scenario["lakehouse"]
    before = len(lh.runs())
    missing = FIRST - timedelta(days=1)
    result = run_section(
        "Rerun a day", scenario["stack"].dir, expect_failure=True, DAY=str(missing)
    )
    assert result.returncode == 1
    assert f"runs: no run for day {missing} in the run ledger" in result.stderr, result.stderr
    assert len(lh.runs()) == before


def test_6_a_full_refresh_from_raw_rebuilds_the_same_marts(scenario):
    base, lh = scenario["base"], scenario["lakehouse"]
    before = {r["dag_run_id"] for r in dag_runs(base)}
    run_section("Full refresh", scenario["stack"].dir, FIRST_DAY=str(FIRST),
                NEXT_DAY=str(LAST + timedelta(days=1)))  # fmt: skip

    def finished():
        new = [r for r in dag_runs(base) if r["dag_run_id"] not in before]
        return new[0] if new and new[0]["state"] in ("success", "failed") else None

    assert wait_until(finished, "the full refresh did not finish")["state"] == "success"
    record = next(r for r in lh.runs() if r.get("full_refresh_models"))
    refreshed = {m["name"] for m in record["stages"]["dbt_marts"]["models"] if m["full_refresh"]}
    assert refreshed == {"fct_events", "daily_metrics"}
    assert fingerprint(lh) == scenario["fingerprint"]


def test_7_compaction_and_snapshot_expiry_keep_the_data(scenario):
    output = run_section("Expire old snapshots and compact", scenario["stack"].dir)
    assert "fct_events" in output
    lh = scenario["lakehouse"]
    assert fingerprint(lh) == scenario["fingerprint"]
    table = lh.iceberg_table("fct_events")
    assert len(table.snapshots()) == 1
