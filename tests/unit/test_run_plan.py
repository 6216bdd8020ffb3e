import re
from datetime import UTC, datetime

import pytest
from lakehouse.run_plan import InvalidRunParams, execution_name, execution_name_base, plan_run

pytestmark = pytest.mark.unit
START = datetime(2026, 11, 20, 6, tzinfo=UTC)
END = datetime(2026, 11, 21, 6, tzinfo=UTC)


def test_scheduled_run_covers_its_logical_day():
    plan = plan_run("p", "scheduled__2026-11-20T06:00:00+00:00", START, END, {})
    assert (plan.interval_start, plan.interval_end) == ("2026-11-20", "2026-11-21")
    assert plan.state_machine_input() == {
        "pipeline": "p",
        "run_id": "scheduled__2026-11-20T06:00:00+00:00",
        "interval": {"start": "2026-11-20", "end": "2026-11-21"},
        "full_refresh": False,
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
