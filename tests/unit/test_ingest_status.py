"""`scripts/lakehouse ingest` (lakehouse_ops/ingest.py): the sources the ingest function reads
and a day's state per source, read from the function's configuration and the raw bucket, in
moto. The objects are laid out by the function's own code (ingestion.new_state, Location)."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from dbt_runtime import ingestion, sources
from moto import mock_aws

from lakehouse_ops import cli
from lakehouse_ops.environment import Environment
from lakehouse_ops.ingest import IngestStatusError, day_status, settings, show_status

pytestmark = pytest.mark.unit
DAY = "2026-11-20"
REGION = "us-east-1"


def _sources_file(tmp_path, enabled=True):
    document = json.loads(sources.SOURCES_FILE.read_text())
    document["sources"]["example_events_api"]["enabled"] = enabled
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(name, value)
    with mock_aws():
        env = Environment("sandbox", region=REGION)
        env.client("s3").create_bucket(Bucket=env.names.raw_bucket)
        yield env


def _function(env: Environment, variables: dict) -> None:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="ingest", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    env.client("lambda").create_function(
        FunctionName=env.names.ingest_function,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": variables},
    )


def _interrupted(env: Environment, source: sources.Source, staged_pages: int) -> None:
    """What the function leaves when it fails after `staged_pages` pages."""
    s3, location = env.client("s3"), ingestion.Location(env.names.raw_bucket, "_ingest")
    state = ingestion.new_state(source, DAY)
    for page in range(1, staged_pages + 1):
        body = ingestion.encode_page([{"n": page}])
        s3.put_object(Bucket=location.bucket, Key=location.staged_key(source, DAY, page), Body=body)
        state["pages"].append({"page": page, "records": 1, "bytes": len(body), "sha256": "x"})
    state["next_params"] = {**state["next_params"], "cursor": "c3"}
    state["totals"] = {"requests": 9, "retries": 6, "invocations": 1}
    s3.put_object(
        Bucket=location.bucket,
        Key=location.state_key(source, DAY),
        Body=json.dumps(state).encode(),
    )


def test_the_functions_configuration_says_which_bucket_prefix_and_sources(environment, tmp_path):
    path = _sources_file(tmp_path)
    variables = {"RAW_BUCKET": "other-raw", "INGEST_STATE_PREFIX": "_state/"}
    _function(environment, {**variables, "INGEST_SOURCES_FILE": str(path)})
    found = settings(environment)
    assert (found.raw_bucket, found.state_prefix, found.sources_file) == (
        "other-raw", "_state", path,
    )  # fmt: skip
    assert found.read_from == f"function {environment.names.ingest_function}"


def test_without_the_function_the_terraform_defaults_apply(environment):
    found = settings(environment)
    assert found.raw_bucket == environment.names.raw_bucket
    assert found.state_prefix == "_ingest"
    assert found.sources_file.resolve() == sources.SOURCES_FILE.resolve()
    assert found.read_from.startswith("defaults")


def test_a_sources_file_only_the_function_has_is_named(environment):
    _function(environment, {"INGEST_SOURCES_FILE": "/var/task/elsewhere.json"})
    with pytest.raises(IngestStatusError, match="/var/task/elsewhere.json.*--sources-file"):
        settings(environment)


def test_an_interrupted_day_shows_its_staged_pages_and_where_it_resumes(
    environment, tmp_path, capsys
):
    path = _sources_file(tmp_path)
    source = sources.load(path)["example_events_api"]
    _interrupted(environment, source, staged_pages=2)
    status = day_status(environment.client("s3"), settings(environment, path), source, _day())
    assert status["status"] == "interrupted"
    assert (status["pages"], status["records"]) == (2, 2)
    assert status["next_request"]["cursor"] == "c3"
    assert [s["key"].rsplit("/", 1)[-1] for s in status["staged"]] == [
        "page-00001.jsonl",
        "page-00002.jsonl",
    ]
    assert status["landed"] == []
    assert show_status(environment, _day(), sources_file=path) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"example_events_api {DAY}: interrupted, 2 page(s), 2 record(s)")
    assert "1 invocation(s), 9 request(s), 6 retried" in out
    assert 'resumes at page 3 with {"cursor": "c3"' in out
    assert out.count("  staged ") == 2


def test_a_day_never_ingested_and_a_day_landed_without_state(environment, tmp_path):
    path = _sources_file(tmp_path)
    source = sources.load(path)["example_events_api"]
    found, s3 = settings(environment, path), environment.client("s3")
    assert day_status(s3, found, source, _day())["status"] == "not ingested"
    location = ingestion.Location(found.raw_bucket, found.state_prefix)
    s3.put_object(Bucket=found.raw_bucket, Key=location.landed_key(source, DAY, 1), Body=b"{}\n")
    status = day_status(s3, found, source, _day())
    assert status["status"] == "landed without a state" and len(status["landed"]) == 1


def test_the_command_lists_sources_and_refuses_an_unknown_one(environment, tmp_path, capsys):
    path = _sources_file(tmp_path, enabled=False)
    args = ["--env", "sandbox", "--region", REGION, "ingest"]
    assert cli.main([*args, "sources", "--sources-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "example_events_api disabled -> events: https://api.example.com/v1/events" in out
    assert "secret lakehouse-sandbox/sources/example_events_api" in out  # the environment's
    # Only enabled sources unless one is named.
    assert cli.main([*args, "status", "--day", DAY, "--sources-file", str(path)]) == 0
    assert "no source is enabled" in capsys.readouterr().out
    named = [*args, "status", "--day", DAY, "--sources-file", str(path), "--json"]
    assert cli.main([*named, "--source", "example_events_api"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "not ingested"
    assert cli.main([*named, "--source", "nope"]) == 1
    assert "no source 'nope'" in capsys.readouterr().err


def test_a_broken_declaration_fails_with_the_functions_message(environment, tmp_path, capsys):
    path = tmp_path / "sources.json"
    document = json.loads(_sources_file(tmp_path).read_text())
    document["sources"]["example_events_api"]["cursor_field"] = "nope"
    path.write_text(json.dumps(document))
    args = ["--env", "sandbox", "--region", REGION, "ingest", "sources", "--sources-file"]
    assert cli.main([*args, str(path)]) == 1
    assert "cursor_field 'nope' is not a declared field of events" in capsys.readouterr().err


def _day():
    from datetime import date

    return date.fromisoformat(DAY)


def test_a_token_goes_into_the_sources_secret_created_if_missing(environment, tmp_path, capsys):
    from lakehouse_ops.ingest import put_token

    path = _sources_file(tmp_path)
    secret = environment.names.source_secrets_prefix + "example_events_api"
    secrets = environment.client("secretsmanager")
    assert put_token(environment, "example_events_api", "t1\n", path) == 0
    assert f"created secret {secret}" in capsys.readouterr().out
    assert put_token(environment, "example_events_api", "t2", path) == 0
    assert f"put a new value in secret {secret}" in capsys.readouterr().out
    assert secrets.get_secret_value(SecretId=secret)["SecretString"] == "t2"
    with pytest.raises(IngestStatusError, match="no token"):
        put_token(environment, "example_events_api", " \n", path)
