"""The emulator's fault-injection switch (local/faults.py): AWS errors in each protocol's wire
format, for the next N matching calls only; crawls that end FAILED."""

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import faults
from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

pytestmark = pytest.mark.integration
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def emulator(local_stack):
    import boto3

    _, provisioned, lakehouse = local_stack
    url = lakehouse.endpoint_url
    faults.clear(url)

    def client(service):  # SDK retries off: every call reaches the emulator once
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=NO_RETRIES,
        )

    yield url, provisioned, client
    faults.clear(url)


def error_of(call, *args, **kwargs) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_json_protocol_fault_hits_the_next_n_calls_then_clears(emulator):
    url, provisioned, client = emulator
    glue = client("glue")
    faults.inject(
        url, service="glue", operation="GetCrawler", error="ThrottlingException", status=400,
        times=2, message="Rate exceeded",
    )  # fmt: skip
    for _ in range(2):
        assert error_of(glue.get_crawler, Name=provisioned.names.raw_crawler) == (
            "ThrottlingException",
            400,
        )
    assert glue.get_crawler(Name=provisioned.names.raw_crawler)["Crawler"]["Name"]
    assert faults.rules(url)["api"] == []


def test_lambda_invoke_fault_matches_one_function_only(emulator):
    url, provisioned, client = emulator
    lam = client("lambda")
    faults.inject(
        url, operation="Invoke", match=provisioned.names.test_executor_function,
        error="TooManyRequestsException", status=429,
    )  # fmt: skip
    # Another function's call goes through (DryRun: checks the call without running code).
    other = lam.invoke(
        FunctionName=provisioned.names.dbt_executor_function, InvocationType="DryRun"
    )
    assert other["StatusCode"] == 204
    assert error_of(
        lam.invoke, FunctionName=provisioned.names.test_executor_function, InvocationType="DryRun"
    ) == ("TooManyRequestsException", 429)
    assert faults.rules(url)["api"] == []


def test_rest_xml_and_query_protocol_faults(emulator):
    url, provisioned, client = emulator
    s3, sns = client("s3"), client("sns")
    bucket = provisioned.names.raw_bucket
    s3.put_object(Bucket=bucket, Key="faults/probe.json", Body=b"{}")
    faults.inject(url, operation="GetObject", match="probe.json", error="SlowDown", status=503)
    assert error_of(s3.get_object, Bucket=bucket, Key="faults/probe.json") == ("SlowDown", 503)
    assert s3.get_object(Bucket=bucket, Key="faults/probe.json")["Body"].read() == b"{}"

    faults.inject(url, operation="Publish", error="ThrottledException", status=400)
    topic = provisioned.alerts_topic_arn
    assert error_of(sns.publish, TopicArn=topic, Message="x") == ("ThrottledException", 400)


def test_forward_carries_the_call_out_and_loses_the_answer(emulator):
    url, provisioned, client = emulator
    ddb = client("dynamodb")
    key = {"pipeline": {"S": "faults-probe"}, "run_id": {"S": "forwarded"}}
    faults.inject(url, operation="PutItem", error="InternalServerError", status=500, forward=True)
    assert error_of(ddb.put_item, TableName=provisioned.names.runs_table, Item=key)[1] == 500
    stored = ddb.get_item(TableName=provisioned.names.runs_table, Key=key, ConsistentRead=True)
    assert stored["Item"] == key  # the write happened although the caller saw an error
    ddb.delete_item(TableName=provisioned.names.runs_table, Key=key)


def test_a_crawl_rule_fails_the_next_crawl_only(emulator):
    url, provisioned, client = emulator
    glue = client("glue")
    name = provisioned.names.raw_crawler

    def crawl() -> dict:
        glue.start_crawler(Name=name)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            crawler = glue.get_crawler(Name=name)["Crawler"]
            if crawler["State"] == "READY":
                return crawler["LastCrawl"]
            time.sleep(0.5)
        raise TimeoutError("the crawler did not finish")

    faults.fail_next_crawl(url, name, "Internal Service Exception: injected")
    failed = crawl()
    assert failed["Status"] == "FAILED"
    assert failed["ErrorMessage"] == "Internal Service Exception: injected"
    # Read again, the failed crawl stays failed; the rule itself is used up.
    assert glue.get_crawlers()["Crawlers"][0]["LastCrawl"]["Status"] == "FAILED"
    assert faults.rules(url)["crawls"] == []
    assert crawl()["Status"] == "SUCCEEDED"


def test_invalid_rules_are_refused(emulator):
    url, _, _ = emulator
    with pytest.raises(faults.InvalidRule, match="operation is required"):
        faults.inject(url, error="ServiceException")
    with pytest.raises(faults.InvalidRule, match="status"):
        faults.inject(url, operation="Invoke", error="ServiceException", status=200)
    with pytest.raises(faults.InvalidRule, match="unknown fields: tims"):
        faults.inject(url, operation="Invoke", error="ServiceException", tims=2)
    assert faults.rules(url)["api"] == []


def test_requests_pass_through_unchanged_while_a_rule_waits(emulator):
    """A rule reads the requests it is matched against; a chunked upload (no Content-Length,
    as pyiceberg's file writes send) must still reach S3 whole."""
    import http.client
    from urllib.parse import urlparse

    url, provisioned, client = emulator
    faults.inject(url, operation="NoSuchOperation", error="ServiceException")
    endpoint = urlparse(url)
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    body = [b"x" * 1000, b"y" * 1000]
    path = f"/{provisioned.names.raw_bucket}/faults/chunked.bin"
    connection.request("PUT", path, body=iter(body), encode_chunked=True)
    assert connection.getresponse().status == 200
    stored = client("s3").get_object(Bucket=provisioned.names.raw_bucket, Key="faults/chunked.bin")
    assert stored["Body"].read() == b"".join(body)
