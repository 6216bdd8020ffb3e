"""The pieces that let runs of different days run at the same time, against the emulator: the
marts lease in the run ledger and the digest of the raw objects a run parsed."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import date

import pytest
from dbt_runtime import merge_lock, raw_inputs
from dbt_runtime.dbt_invocation import Interval
from dbt_runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(lambda_env) -> Settings:
    return Settings.from_env()


def test_one_run_at_a_time_holds_the_marts_lease(settings):
    with merge_lock.held(settings, "p", "run-a", lease_s=60):
        with pytest.raises(merge_lock.MartsLockBusy, match="run run-a has been merging"):
            with merge_lock.held(settings, "p", "run-b", lease_s=60):
                pass
        # The holder itself (a retried invocation of the same run) may take it again.
        with merge_lock.held(settings, "p", "run-a", lease_s=60):
            pass
    # Released: the next run takes it; another pipeline never waited for it.
    with merge_lock.held(settings, "p", "run-b", lease_s=60):
        with merge_lock.held(settings, "other-pipeline", "run-c", lease_s=60):
            pass


def test_a_lease_whose_holder_cannot_be_running_any_more_is_taken_over(settings, monkeypatch):
    monkeypatch.setattr(merge_lock, "MARGIN_S", 0)
    crashed, taken_over = ExitStack(), ExitStack()
    crashed.enter_context(merge_lock.held(settings, "p", "crashed-run", lease_s=0.5))
    time.sleep(1.0)  # the holder's function would have timed out by now
    taken_over.enter_context(merge_lock.held(settings, "p", "run-b", lease_s=60))
    crashed.close()  # a late release by the old holder does not free run-b's lease
    with pytest.raises(merge_lock.MartsLockBusy, match="run-b"):
        with merge_lock.held(settings, "p", "run-c", lease_s=60):
            pass
    taken_over.close()


def test_the_raw_digest_changes_with_any_object_of_the_interval_only(settings, lambda_env):
    import boto3

    s3 = boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)
    bucket = lambda_env.raw_bucket
    interval = Interval(date(2026, 5, 1), date(2026, 5, 3))
    s3.put_object(Bucket=bucket, Key="events/dt=2026-05-01/a.jsonl", Body=b"{}\n")
    first = raw_inputs.digest(settings, interval, full_refresh=False)
    assert raw_inputs.recorded(settings, "rfresh") is None
    raw_inputs.record(settings, "rfresh", first)
    assert raw_inputs.recorded(settings, "rfresh") == first

    s3.put_object(Bucket=bucket, Key="events/dt=2026-05-03/later.jsonl", Body=b"{}\n")
    assert raw_inputs.digest(settings, interval, full_refresh=False) == first  # another day
    s3.put_object(Bucket=bucket, Key="events/dt=2026-05-01/a.jsonl", Body=b'{"fixed": 1}\n')
    replaced = raw_inputs.digest(settings, interval, full_refresh=False)
    assert replaced != first
    s3.put_object(Bucket=bucket, Key="users/dt=2026-05-02/sub/x.ndjson", Body=b"{}\n")
    assert raw_inputs.digest(settings, interval, full_refresh=False) != replaced  # any name
    assert raw_inputs.digest(settings, interval, full_refresh=True) != replaced  # every day
