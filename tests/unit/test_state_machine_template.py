import json

import pytest

from local.provision import ASL_TEMPLATE, render_template

pytestmark = pytest.mark.unit
VARIABLES = {
    "ingest_arn": "arn:aws:lambda:us-east-1:1:function:ingest",
    "dbt_executor_arn": "arn:aws:lambda:us-east-1:1:function:dbt",
    "test_executor_arn": "arn:aws:lambda:us-east-1:1:function:test",
    "runs_table": "runs",
    "alerts_topic_arn": "arn:aws:sns:us-east-1:1:alerts",
    "curated_bucket": "curated",
    "ecs_results_prefix": "dbt_artifacts/ecs_results",
    "ecs_cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c",
    "dbt_task_definition_arn": "arn:aws:ecs:us-east-1:1:task-definition/dbt",
    "dbt_task_container": "dbt-runtime",
    "ecs_subnet_ids": "subnet-a,subnet-b",
    "ecs_security_group_ids": "sg-a",
}


def definition() -> dict:
    return json.loads(render_template(ASL_TEMPLATE.read_text(), VARIABLES))


def test_template_renders_to_valid_asl_with_every_variable_used():
    text = ASL_TEMPLATE.read_text()
    for name in VARIABLES:
        assert "${" + name + "}" in text
    states = definition()["States"]
    assert definition()["StartAt"] in states
    for name, state in states.items():
        for key in ("Next", "Default"):
            if key in state:
                assert state[key] in states, f"{name}.{key} points nowhere"
        for catch in state.get("Catch", []):
            assert catch["Next"] in states


def test_stages_run_in_order_and_every_lambda_task_retries_and_catches():
    states = definition()["States"]
    order, name = [], definition()["StartAt"]
    while name in states and name != "TestsPassed":
        order.append(name)
        state = states[name]
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    assert [s for s in order if s.startswith(("Dbt", "Ingest"))] == [
        "Ingest",
        "IngestComplete",
        "DbtStagingCompute",
        "DbtStaging",
        "DbtMartsCompute",
        "DbtMarts",
        "DbtTests",
    ]
    for stage in ("Ingest", "DbtStaging", "DbtMarts", "DbtTests"):
        state = states[stage]
        assert state["Resource"] == "arn:aws:states:::lambda:invoke"
        retry = state["Retry"][0]
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        assert states[state["Catch"][0]["Next"]]["Next"] == "ReadFailureCause"
    # a function's error (the Lambda runtime's JSON) is recorded as its message
    reading = states["ReadFailureCause"]
    assert reading["Default"] == "RecordFailure"
    assert reading["Choices"][0]["Next"] == "ParseFunctionError"
    assert states["ParseFunctionError"]["Next"] == "KeepFunctionErrorMessage"
    kept = states["KeepFunctionErrorMessage"]
    assert kept["Parameters"]["Cause.$"].endswith(".errorMessage")
    assert (kept["ResultPath"], kept["Next"]) == ("$.failure", "RecordFailure")
    assert states["RecordFailure"]["Next"] == "RecordRunArtifacts"
    assert states["RecordRunArtifacts"]["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Resource"] == "arn:aws:states:::sns:publish"
    assert states["NotifyFailure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_missing_variable_and_directives_are_rejected():
    with pytest.raises(KeyError, match="runs_table"):
        render_template("${runs_table}", {})
    with pytest.raises(ValueError, match="directives"):
        render_template("%{ if x }y%{ endif }", {})


def test_a_redrive_enters_at_the_stage_it_names_and_every_stage_gets_the_run_options():
    states = definition()["States"]
    assert states["RecordExecutionStarted"]["Next"] == "ResumeFrom"
    entries = {c["StringEquals"]: c["Next"] for c in states["ResumeFrom"]["Choices"]}
    assert entries == {"dbt_marts": "DbtMartsCompute", "tests": "DbtTests"}
    assert states["ResumeFrom"]["Default"] == "PrepareIngest"
    for stage in ("DbtStaging", "DbtMarts", "DbtTests"):
        payload = states[stage]["Parameters"]["Payload"]
        assert payload["lookback_days.$"] == "$.lookback_days"
        assert payload["max_bad_row_share.$"] == "$.max_bad_row_share"
        assert payload["full_refresh_models.$"] == "$.full_refresh_models"
        # every stage reads and writes the run's own relations (a redrive: the failed run's)
        assert payload["run_key.$"] == "$.run_key"
    # a redrive entering at the marts parses raw again if it changed since the failed run's parse
    assert states["DbtMarts"]["Parameters"]["Payload"]["resume_from.$"] == "$.resume_from"


def test_a_run_waits_for_the_marts_lease_in_step_functions_and_cleans_up_after_success():
    states = definition()["States"]
    # The ledger records the execution's run key: what a redrive of it reuses.
    started = states["RecordExecutionStarted"]["Parameters"]
    assert "run_key = :run_key" in started["UpdateExpression"]
    assert started["ExpressionAttributeValues"][":run_key"] == {"S.$": "$.run_key"}
    lease = [r for r in states["DbtMarts"]["Retry"] if r["ErrorEquals"] == ["MartsLockBusy"]]
    assert len(lease) == 1
    wait = lease[0]
    # Up to MaxAttempts waits of at most MaxDelaySeconds: long enough for runs ahead to merge,
    # bounded under the execution's own timeout.
    assert wait["MaxAttempts"] * wait["MaxDelaySeconds"] < definition()["TimeoutSeconds"]
    # Likewise for a source-day another invocation is ingesting (handlers/ingest.py).
    (ingest_wait,) = [r for r in states["Ingest"]["Retry"] if r["ErrorEquals"] == ["IngestBusy"]]
    longest_wait = ingest_wait["MaxAttempts"] * ingest_wait["MaxDelaySeconds"]
    assert longest_wait < definition()["TimeoutSeconds"]
    assert states["TestsPassed"]["Default"] == "DropRunRelations"
    drop = states["DropRunRelations"]
    assert drop["Parameters"]["Payload"]["select"] == "cleanup"
    assert drop["Parameters"]["Payload"]["run_key.$"] == "$.run_key"
    # A failed cleanup never fails a run that succeeded.
    assert drop["Next"] == drop["Catch"][0]["Next"] == "RecordSuccess"
    assert drop["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_the_failure_path_records_the_run_artifacts_without_hiding_the_error():
    states = definition()["States"]
    step = states["RecordRunArtifacts"]
    # After the ledger has the failure, before the alert; whatever it does, the alert and the
    # Fail state still get the original error and cause.
    assert states["RecordFailure"]["Next"] == "RecordRunArtifacts"
    assert states["RecordFailure"]["Catch"][0]["Next"] == "RecordRunArtifacts"
    assert step["Parameters"]["FunctionName"] == VARIABLES["test_executor_arn"]
    payload = step["Parameters"]["Payload"]
    assert payload["mode"] == "record_only"
    assert payload["failed_stage.$"] == "$.failure.stage"
    assert payload["execution_id.$"] == "$$.Execution.Id"
    assert step["ResultPath"] == "$.artifacts"
    assert step["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.artifacts_error", "Next": "NotifyFailure"}
    ]
    assert step["Next"] == "NotifyFailure"
    assert "Lambda.TooManyRequestsException" in step["Retry"][0]["ErrorEquals"]
    assert states["Failed"]["ErrorPath"] == "$.failure.Error"
    assert states["Failed"]["CausePath"] == "$.failure.Cause"
    # Every failure branch reaches it.
    for branch in ("DbtStagingFailed", "DbtMartsFailed", "DbtTestsFailed"):
        assert states[branch]["Next"] == "ReadFailureCause"
    assert states["TestsFailed"]["Next"] == "RecordFailure"  # its cause is text already


def _ingest_path(status: str, invocations: int) -> str:
    """Where the IngestComplete choice sends a result of `status` after `invocations`."""
    choice = definition()["States"]["IngestComplete"]
    facts = {"$.stages.ingest.result.status": status, "$.ingest_loop.invocations": invocations}

    def holds(rule) -> bool:
        if "And" in rule:
            return all(holds(r) for r in rule["And"])
        value = facts[rule["Variable"]]
        if "StringEquals" in rule:
            return value == rule["StringEquals"]
        return value < rule["NumericLessThan"]

    return next((c["Next"] for c in choice["Choices"] if holds(c)), choice["Default"])


def test_a_fresh_run_ingests_first_loops_while_incomplete_and_records_the_stage():
    states = definition()["States"]
    assert states["PrepareIngest"]["Next"] == "Ingest"
    assert states["PrepareIngest"]["Result"] == {"invocations": 1}
    ingest = states["Ingest"]
    assert ingest["Parameters"]["FunctionName"] == VARIABLES["ingest_arn"]
    assert ingest["Parameters"]["Payload"]["interval.$"] == "$.interval"
    assert ingest["ResultPath"] == "$.stages.ingest"
    assert ingest["Next"] == "IngestComplete"
    assert _ingest_path("SKIPPED", 1) == "RecordIngest"
    assert _ingest_path("SUCCEEDED", 3) == "RecordIngest"
    assert _ingest_path("INCOMPLETE", 1) == "CountIngestInvocation"
    assert states["CountIngestInvocation"]["Next"] == "Ingest"
    assert "States.MathAdd($.ingest_loop.invocations, 1)" in json.dumps(
        states["CountIngestInvocation"]["Parameters"]
    )
    # bounded: a source that never finishes fails the run instead of looping for hours
    assert _ingest_path("INCOMPLETE", 20) == "IngestStalled"
    stalled = states["IngestStalled"]
    assert stalled["Parameters"]["stage"] == "ingest" and stalled["Next"] == "RecordFailure"
    record = states["RecordIngest"]
    assert "stages.ingest = :stage" in record["Parameters"]["UpdateExpression"]
    assert record["Next"] == "DbtStagingCompute"
    assert states[record["Catch"][0]["Next"]]["Parameters"]["stage"] == "ingest"
    # A redrive resuming a later stage does not ingest again.
    resumed = {c["Next"] for c in states["ResumeFrom"]["Choices"]}
    assert "PrepareIngest" not in resumed


def _compute_path(compute: str | None, stage: str) -> str:
    choice = definition()["States"][f"{stage}Compute"]
    facts = {} if compute is None else {"$.compute": compute}

    def holds(rule) -> bool:
        if "And" in rule:
            return all(holds(r) for r in rule["And"])
        if "IsPresent" in rule:
            return (rule["Variable"] in facts) == rule["IsPresent"]
        return facts.get(rule["Variable"]) == rule["StringEquals"]

    return next((c["Next"] for c in choice["Choices"] if holds(c)), choice["Default"])


@pytest.mark.parametrize("stage", ["DbtStaging", "DbtMarts"])
def test_compute_ecs_runs_the_stage_as_an_ecs_task_with_the_lambda_s_event(stage):
    from local.provision import ECS_TASK

    states = definition()["States"]
    assert _compute_path("ecs", stage) == f"{stage}OnEcsEvent"
    assert _compute_path("lambda", stage) == stage
    assert _compute_path(None, stage) == stage  # an input from before compute existed
    lambda_state = states[stage]
    event = states[f"{stage}OnEcsEvent"]
    # The task gets exactly the event the Lambda gets.
    assert event["Parameters"]["event"] == lambda_state["Parameters"]["Payload"]
    stage_name = lambda_state["Parameters"]["Payload"]["stage"]
    assert f"/{stage_name}.json', $$.Execution.Name)" in event["Parameters"]["result_key.$"]
    task = states[event["Next"]]
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert task["TimeoutSeconds"] == ECS_TASK["timeout_s"]
    parameters = task["Parameters"]
    assert parameters["TaskDefinition"] == VARIABLES["dbt_task_definition_arn"]
    assert parameters["LaunchType"] == "FARGATE"
    override = parameters["Overrides"]["ContainerOverrides"][0]
    assert override["Name"] == ECS_TASK["container"]
    assert {e["Name"] for e in override["Environment"]} == {"STAGE_EVENT", "STAGE_RESULT_S3"}
    # What the task wrote decides, whether the state succeeded or failed (on AWS a non-zero
    # exit fails it): the result lands where the Lambda's would, then the same record...
    outcome = states[task["Next"]]
    assert task["Catch"][0]["Next"] == task["Next"]
    assert outcome["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert outcome["Parameters"]["Key.$"] == "$.ecs.result_key"
    succeeded = states[outcome["Next"]]
    result = states[succeeded["Default"]]
    assert result["ResultPath"] == lambda_state["ResultPath"]
    assert result["Parameters"] == {"result.$": "$.ecs.outcome.document"}
    assert result["Next"] == lambda_state["Next"]
    # ...or its error (the Lambda runtime's shape) takes the stage's failure path, the one a
    # Lambda failure takes, with its type and message; no result at all fails it too.
    failed = lambda_state["Catch"][0]["Next"]
    message = states[succeeded["Choices"][0]["Next"]]
    assert succeeded["Choices"][0]["Variable"] == "$.ecs.outcome.document.errorMessage"
    assert message["Parameters"] == {
        "Error.$": "$.ecs.outcome.document.errorType",
        "Cause.$": "$.ecs.outcome.document.errorMessage",
    }
    assert (message["ResultPath"], message["Next"]) == ("$.error", failed)
    lost = states[outcome["Catch"][0]["Next"]]
    assert (lost["Parameters"]["Error"], lost["ResultPath"], lost["Next"]) == (
        "EcsTaskFailed",
        "$.error",
        failed,
    )


def test_a_killed_ingest_invocation_is_invoked_again_but_a_dbt_one_is_not():
    """The ingest keeps its pages and state in S3 as it goes, so a runtime kill (its timeout, its
    memory) is resumed by invoking it again; a dbt stage's kill fails the run (a redrive)."""
    states = definition()["States"]
    killed = {"Sandbox.Timedout", "Lambda.Unknown"}
    (retry,) = [r for r in states["Ingest"]["Retry"] if set(r["ErrorEquals"]) == killed]
    assert 1 <= retry["MaxAttempts"] <= 3
    for stage in ("DbtStaging", "DbtMarts", "DbtTests"):
        retried = {e for r in states[stage].get("Retry", []) for e in r["ErrorEquals"]}
        assert not retried & killed, stage
