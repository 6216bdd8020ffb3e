"""The benchmark page's scaling rows: seconds per 1M events at each size, linear or not."""

import pytest

from benchmarks.report import _scaling_rows

pytestmark = pytest.mark.unit


def test_scaling_is_judged_by_the_time_per_event_of_the_largest_run_over_the_smallest():
    linear = _scaling_rows({"scaling": {"1000000": 20.0, "2000000": 38.0, "5000000": 100.0}})
    assert linear[0][2] == "20.0 s"
    assert linear[1][2] == "20.0 / 19.0 / 20.0 (1.00x)" and linear[1][3] == "met"
    worse = _scaling_rows({"scaling": {"1000000": 10.0, "5000000": 100.0}})
    assert worse[1][2].endswith("(2.00x)") and worse[1][3] == "**missed**"


def test_no_scaling_rows_where_the_run_measured_none():
    assert _scaling_rows({}) == []
