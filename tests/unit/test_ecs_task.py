"""The ECS task entry point: the stage's event in, the handler's result (or its error, in the
Lambda runtime's shape, with exit code 1) out to S3."""

import json

import pytest
from dbt_runtime import ecs_task
from dbt_runtime.merge_lock import MartsLockBusy

pytestmark = pytest.mark.unit
RESULT_S3 = "s3://curated/dbt_artifacts/ecs_results/exec-t1/dbt_staging.json"
calls: list[dict] = []


def succeeding(event, context):
    calls.append(event)
    assert context.get_remaining_time_in_millis() > 0
    return {"stage": event["stage"], "status": "SUCCEEDED"}


def failing(event, context):
    raise ValueError("cannot full-refresh ['nope']")


@pytest.fixture
def written(monkeypatch):
    documents = []
    monkeypatch.setattr(ecs_task, "_put", lambda url, doc: documents.append((url, doc)))
    monkeypatch.setenv("STAGE_RESULT_S3", RESULT_S3)
    monkeypatch.setenv("STAGE_EVENT", json.dumps({"stage": "dbt_staging"}))
    calls.clear()
    return documents


def test_the_handler_s_result_is_written_and_the_task_exits_0(written, monkeypatch):
    monkeypatch.setattr(ecs_task, "HANDLER", f"{__name__}.succeeding")
    assert ecs_task.main() == 0
    assert written == [(RESULT_S3, {"stage": "dbt_staging", "status": "SUCCEEDED"})]
    assert calls == [{"stage": "dbt_staging"}]


def test_an_error_is_written_in_the_lambda_runtime_s_shape_and_the_task_exits_1(
    written, monkeypatch
):
    monkeypatch.setattr(ecs_task, "HANDLER", f"{__name__}.failing")
    assert ecs_task.main() == 1
    [(url, document)] = written
    assert url == RESULT_S3
    assert document["errorType"] == "ValueError"
    assert document["errorMessage"] == "cannot full-refresh ['nope']"
    assert document["stackTrace"]


def test_an_event_that_is_not_an_object_fails_the_task(written, monkeypatch):
    monkeypatch.setenv("STAGE_EVENT", "[]")
    assert ecs_task.main() == 1
    assert "STAGE_EVENT" in written[0][1]["errorMessage"]


def test_a_task_that_cannot_write_its_outcome_exits_2(monkeypatch):
    monkeypatch.setenv("STAGE_RESULT_S3", "not-an-s3-url")
    monkeypatch.setenv("STAGE_EVENT", "{}")
    monkeypatch.setattr(ecs_task, "HANDLER", f"{__name__}.succeeding")
    assert ecs_task.main() == 2


def test_a_busy_marts_lease_is_waited_for_inside_the_task(monkeypatch):
    attempts = []

    def busy_once(event, context):
        attempts.append(context.get_remaining_time_in_millis())
        if len(attempts) == 1:
            raise MartsLockBusy("run r0 has been merging")
        return {"status": "SUCCEEDED"}

    monkeypatch.setattr(ecs_task.time, "sleep", lambda _s: None)
    assert ecs_task.run(busy_once, {}, timeout_s=600) == {"status": "SUCCEEDED"}
    assert len(attempts) == 2
    # Without time left for another wait, the task fails as a Lambda would.
    with pytest.raises(MartsLockBusy):
        ecs_task.run(lambda *_: (_ for _ in ()).throw(MartsLockBusy("busy")), {}, timeout_s=5)


def test_the_task_s_bounds_are_the_contract_s():
    assert ecs_task.HANDLER == "dbt_runtime.handlers.dbt_executor.handler"
    assert ecs_task.TIMEOUT_S == ecs_task.TASK["timeout_s"]
