import re
from datetime import UTC, datetime

import pytest
from lakehouse.run_plan import (
    InvalidRunParams,
    execution_name,
    execution_name_base,
    plan_run,
    redrive_plan,
    run_key,
    state_machine_input,
)

pytestmark = pytest.mark.unit
START = datetime(2026, 11, 20, 6, tzinfo=UTC)
END = datetime(2026, 11, 21, 6, tzinfo=UTC)


def test_scheduled_run_covers_its_logical_day():
    plan = plan_run("p", "scheduled__2026-11-20T06:00:00+00:00", START, END, {})
    assert (plan.interval_start, plan.interval_end) == ("2026-11-20", "2026-11-21")
    assert plan.state_machine_input() == {
        "pipeline": "p",
        "run_id": "scheduled__2026-11-20T06:00:00+00:00",
        "run_key": run_key("scheduled__2026-11-20T06:00:00+00:00", 1),
        "interval": {"start": "2026-11-20", "end": "2026-11-21"},
        "full_refresh": False,
        "full_refresh_models": [],
        "lookback_days": 2,
        "max_bad_row_share": 0.05,
        "resume_from": "dbt_staging",
        "compute": "lambda",
    }


def test_params_override_the_interval():
    params = {"interval_start": "2026-10-01", "interval_end": "2026-10-08", "full_refresh": True}
    plan = plan_run("p", "manual__x", START, END, params)
    assert (plan.interval_start, plan.interval_end, plan.full_refresh) == (
        "2026-10-01",
        "2026-10-08",
        True,
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"interval_start": "2026-10-01"}, "both"),
        ({"interval_start": "2026-10-08", "interval_end": "2026-10-01"}, "after"),
        ({"interval_start": "yesterday", "interval_end": "2026-10-01"}, "date"),
        ({"lookback_days": -1}, "lookback_days"),
        ({"lookback_days": "3"}, "lookback_days"),
        ({"max_bad_row_share": 1.5}, "max_bad_row_share"),
        ({"max_bad_row_share": "0.1"}, "max_bad_row_share"),
        ({"max_bad_row_share": True}, "max_bad_row_share"),
        ({"full_refresh_models": "fct_events"}, "list of model names"),
        # 99 days + 2 days of lookback: 101 partitions in one merge
        ({"interval_start": "2026-01-01", "interval_end": "2026-04-10"}, "backfill the range"),
    ],
)
def test_bad_params_are_rejected_clearly(params, message):
    with pytest.raises(InvalidRunParams, match=message):
        plan_run("p", "manual__x", START, END, params)


def test_a_run_without_logical_date_needs_interval_params():
    with pytest.raises(InvalidRunParams, match="no data interval"):
        plan_run("p", "manual__x", None, None, {})
    plan = plan_run(
        "p", "manual__x", None, None, {"interval_start": "2026-11-05", "interval_end": "2026-11-06"}
    )
    assert plan.interval_start == "2026-11-05"


def test_execution_names_are_valid_deterministic_and_unique_per_try():
    run_id = "manual__2026-11-22T00:48:07.253666+00:00" + "x" * 100
    base = execution_name_base(run_id)
    assert base == execution_name_base(run_id)
    names = {execution_name(base, t) for t in (1, 2, 3, 9999)}
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name), name
    # runs whose ids differ only in characters that get replaced still get different names
    assert execution_name_base("a:b") != execution_name_base("a+b")


def test_a_long_range_is_allowed_as_a_full_refresh_and_up_to_the_partition_limit():
    params = {"interval_start": "2026-01-01", "interval_end": "2026-04-10", "full_refresh": True}
    assert plan_run("p", "manual__x", START, END, params).full_refresh
    params = {"interval_start": "2026-01-01", "interval_end": "2026-04-09"}  # 98 + 2 days
    assert plan_run("p", "manual__x", START, END, params).interval_end == "2026-04-09"


def test_max_bad_row_share_reaches_the_state_machine():
    plan = plan_run("p", "manual__x", START, END, {"max_bad_row_share": 0.5})
    assert plan.state_machine_input()["max_bad_row_share"] == 0.5
    assert plan_run("p", "manual__x", START, END, {"max_bad_row_share": 0}).max_bad_row_share == 0


def test_full_refresh_models_and_lookback_reach_the_state_machine():
    params = {"full_refresh_models": ["fct_events", "fct_events"], "lookback_days": 5}
    machine_input = plan_run("p", "manual__x", START, END, params).state_machine_input()
    assert machine_input["full_refresh_models"] == ["fct_events"]
    assert machine_input["lookback_days"] == 5


FAILED_RUN = {
    "status": "FAILED",
    "failed_stage": "dbt_marts",
    "interval_start": "2026-11-03",
    "interval_end": "2026-11-04",
    "full_refresh": False,
    "full_refresh_models": ["dim_users"],
    "lookback_days": 4,
    "max_bad_row_share": 0.2,
}


def test_a_redrive_repeats_the_failed_run_from_its_failed_stage():
    plan = redrive_plan("p", "manual__redrive", FAILED_RUN, "scheduled__x")
    machine_input = plan.state_machine_input()
    assert machine_input["resume_from"] == "dbt_marts"
    assert machine_input["interval"] == {"start": "2026-11-03", "end": "2026-11-04"}
    assert (machine_input["lookback_days"], machine_input["full_refresh_models"]) == (
        4,
        ["dim_users"],
    )
    assert machine_input["max_bad_row_share"] == 0.2  # the failed run's threshold
    assert plan.run_id == "manual__redrive" and plan.redrive_of == "scheduled__x"
    crawler_failure = {**FAILED_RUN, "failed_stage": "wait_for_raw_crawler"}
    assert redrive_plan("p", "r", crawler_failure, "x").resume_from == "dbt_staging"


def test_each_execution_has_relations_of_its_own_and_a_redrive_resumes_from_the_failed_ones():
    keys = {
        run_key(f"backfill__2026-11-{day:02d}T06:00:00+00:00", attempt)
        for day in range(1, 31)
        for attempt in (1, 2, 3)
    }
    assert len(keys) == 90 and all(k.isalnum() and k.islower() and len(k) <= 40 for k in keys)
    first = plan_run("p", "manual__a", START, END, {})
    assert first.state_machine_input()["run_key"] == run_key("manual__a", 1)
    # What start_transform renders for each try: a retried try never shares the relations of
    # an earlier try's execution, which may still be running.
    as_xcom = first.as_dict()
    assert state_machine_input(as_xcom, 2)["run_key"] == run_key("manual__a", 2)
    assert state_machine_input(as_xcom, 2) == {
        **first.state_machine_input(),
        "run_key": run_key("manual__a", 2),
    }
    # A redrive resuming at the marts reads the failed execution's parse (its recorded key).
    failed = {**FAILED_RUN, "run_key": "rfeedface0000t2"}
    redrive = redrive_plan("p", "r2", failed, "scheduled__x").as_dict()
    assert state_machine_input(redrive, 1)["run_key"] == "rfeedface0000t2"
    assert state_machine_input(redrive, 3)["run_key"] == "rfeedface0000t2"
    # Starting over (a failure before staging ended) parses again, into its own relations.
    staging_failure = {**failed, "failed_stage": "dbt_staging"}
    again = redrive_plan("p", "r4", staging_failure, "x").as_dict()
    assert state_machine_input(again, 1)["run_key"] == run_key("r4", 1)


@pytest.mark.parametrize(
    "record, message",
    [(None, "not in the run ledger"), ({**FAILED_RUN, "status": "SUCCEEDED"}, "only FAILED")],
)
def test_only_failed_runs_can_be_redriven(record, message):
    with pytest.raises(InvalidRunParams, match=message):
        redrive_plan("p", "r", record, "scheduled__x")


@pytest.mark.parametrize(
    ("params", "compute"),
    [
        ({}, "lambda"),  # one day
        ({"interval_start": "2026-11-01", "interval_end": "2026-11-07"}, "lambda"),
        ({"interval_start": "2026-11-01", "interval_end": "2026-11-08"}, "ecs"),  # ECS_FROM_DAYS
        ({"full_refresh": True}, "ecs"),
        ({"full_refresh_models": ["fct_events"]}, "lambda"),  # one mart: asked for, not guessed
        ({"full_refresh_models": ["fct_events"], "compute": "ecs"}, "ecs"),
        # An explicit choice wins, either way.
        ({"full_refresh": True, "compute": "lambda"}, "lambda"),
        ({"compute": "ecs"}, "ecs"),
        (
            {"interval_start": "2026-11-01", "interval_end": "2026-12-01", "compute": "lambda"},
            "lambda",
        ),
    ],
)
def test_auto_compute_takes_ecs_for_long_intervals_and_full_refreshes_an_explicit_one_wins(
    params, compute
):
    from lakehouse.run_plan import ECS_FROM_DAYS

    assert ECS_FROM_DAYS == 7
    plan = plan_run("p", "manual__c", START, END, params)
    assert plan.compute == compute
    assert plan.state_machine_input()["compute"] == compute


def test_compute_must_be_one_of_the_schema_s_choices():
    with pytest.raises(InvalidRunParams, match="compute must be one of auto, lambda, ecs"):
        plan_run("p", "manual__c", START, END, {"compute": "fargate"})


def test_a_redrive_runs_where_the_failed_run_ran():
    failed = {
        "status": "FAILED",
        "failed_stage": "dbt_marts",
        "interval_start": "2026-11-20",
        "interval_end": "2026-11-21",
        "full_refresh": False,
        "compute": "ecs",
    }
    assert redrive_plan("p", "r2", failed, "r1").compute == "ecs"
    # A record from before compute existed: as auto chooses.
    del failed["compute"]
    assert redrive_plan("p", "r2", failed, "r1").compute == "lambda"
    assert redrive_plan("p", "r2", {**failed, "full_refresh": True}, "r1").compute == "ecs"
