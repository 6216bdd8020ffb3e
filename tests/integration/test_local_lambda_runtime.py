"""The emulator's Lambda seam: our code runs for real, errors come back as Lambda reports them."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lam(local_stack):
    stack, provisioned, lakehouse = local_stack
    client = lakehouse.client("lambda")
    for name, handler, timeout in (
        ("fixture-echo", "tests.lambda_fixtures.handlers.echo", 30),
        ("fixture-boom", "tests.lambda_fixtures.handlers.boom", 30),
        ("fixture-sleepy", "tests.lambda_fixtures.handlers.sleepy", 2),
    ):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=f"arn:aws:iam::123456789012:role/{provisioned.names.dbt_executor_role}",
            Handler=handler,
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
            Timeout=timeout,
            Environment={"Variables": {"CUSTOM_SETTING": name}},
        )
    return client


def invoke(client, name, payload):
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload))
    return response, json.loads(response["Payload"].read() or b"null")


def test_handler_runs_with_its_environment_and_private_tmp(lam):
    response, body = invoke(lam, "fixture-echo", {"hello": "world"})
    assert "FunctionError" not in response
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "fixture-echo"
    assert body["custom"] == "fixture-echo"
    assert re.search(r"/lambda-tmp/fixture-echo-[^/]+$", body["tmp"]), body["tmp"]
    assert 0 < body["remaining_ms"] <= 30_000


def test_a_warm_environment_is_reused_and_reports_its_peak_memory(lam, local_stack):
    stack, _, _ = local_stack
    _, first = invoke(lam, "fixture-echo", {"n": 1})
    _, second = invoke(lam, "fixture-echo", {"n": 2})
    assert first["pid"] == second["pid"]  # the same execution environment, warm
    assert second["event"] == {"n": 2}
    log = (stack.dir / "logs" / "fixture-echo.log").read_text()
    assert "(warm)" in log
    peaks = [int(m) for m in re.findall(r"max_memory_used_mb=(\d+)", log)]
    assert peaks and all(0 < peak < 1024 for peak in peaks)


def test_concurrent_invocations_run_in_environments_of_their_own(lam):
    """Runs of different days invoke one function at the same time: like Lambda, each
    invocation gets an execution environment (a process and a /tmp) of its own."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda n: invoke(lam, "fixture-echo", {"hold_s": 2})[1], (1, 2))
    assert first["pid"] != second["pid"] and first["tmp"] != second["tmp"]
    # Side by side, not one after the other: each began before the other ended.
    assert first["started"] < second["ended"] and second["started"] < first["ended"]


def test_unhandled_exception_is_reported_like_lambda(lam):
    response, body = invoke(lam, "fixture-boom", {"value": 42})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input: 42"
    assert body["stackTrace"]


def test_timeout_kills_the_invocation(lam):
    response, body = invoke(lam, "fixture-sleepy", {"seconds": 30})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "timed out after 2.00 seconds" in body["errorMessage"]


def test_unknown_function_is_a_not_found_error(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_dbt_executor_rejects_a_malformed_event(local_stack):
    _, provisioned, lakehouse = local_stack
    response, body = invoke(
        lakehouse.client("lambda"),
        provisioned.names.dbt_executor_function,
        {"select": "staging", "run_key": "r1",
         "interval": {"start": "2026-11-21", "end": "2026-11-20"}},
    )  # fmt: skip
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "InvalidEvent"
    assert "must be after" in body["errorMessage"]
    _, body = invoke(
        lakehouse.client("lambda"),
        provisioned.names.dbt_executor_function,
        {"select": "staging", "run_key": "../other-run",
         "interval": {"start": "2026-11-20", "end": "2026-11-21"}},
    )  # fmt: skip
    assert body["errorType"] == "InvalidEvent" and "run_key" in body["errorMessage"]


def test_the_ingest_function_skips_without_sources_and_gets_none_of_dbt_s_environment(
    local_stack,
):
    """As provisioned from contracts/functions.json, through the Lambda seam: no source is
    enabled by default, so a run's Ingest stage is one quick SKIPPED answer."""
    _, provisioned, lakehouse = local_stack
    lam = lakehouse.client("lambda")
    name = provisioned.names.ingest_function
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Handler"] == "dbt_runtime.handlers.ingest.handler"
    assert config["Role"].endswith(f"/{provisioned.names.ingest_role}")
    assert (config["Timeout"], config["MemorySize"]) == (900, 1024)
    variables = config["Environment"]["Variables"]
    assert variables["RAW_BUCKET"] == provisioned.names.raw_bucket
    assert variables["INGEST_STATE_PREFIX"] == "_ingest"
    assert not [key for key in variables if key.startswith(("DBT_", "ATHENA_", "DUCKDB"))]
    response, body = invoke(
        lam, name, {"run_id": "r1", "interval": {"start": "2026-11-20", "end": "2026-11-21"}}
    )
    assert "FunctionError" not in response, body
    assert (body["status"], body["days"]) == ("SKIPPED", [])
    assert 0 <= body["duration_s"] < 2
    _, body = invoke(lam, name, {"interval": {"start": "2026-11-21", "end": "2026-11-20"}})
    assert body["errorType"] == "InvalidEvent"


def test_crawler_runs_to_ready_with_a_succeeded_last_crawl(local_stack):
    import time

    _, provisioned, lakehouse = local_stack
    glue = lakehouse.client("glue")
    glue.start_crawler(Name=provisioned.names.raw_crawler)
    assert glue.get_crawler(Name=provisioned.names.raw_crawler)["Crawler"]["State"] == "RUNNING"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crawler = glue.get_crawler(Name=provisioned.names.raw_crawler)["Crawler"]
        if crawler["State"] == "READY":
            break
        time.sleep(0.5)
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
