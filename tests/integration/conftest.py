"""What the integration tests of the dbt runtime share."""

from __future__ import annotations

import pytest


@pytest.fixture
def lambda_env(local_stack, monkeypatch):
    """This process gets the dbt runtime functions' environment on the local stack (as the
    provisioner sets it), so their modules can be called directly; yields the resource names."""
    from dbt_runtime import iceberg

    from local.aws import CREDENTIALS_ENV
    from local.provision import lambda_environment

    _, provisioned, _ = local_stack
    env = lambda_environment(provisioned.names, "local", "/unused", {"DUCKDB_PATH": "/unused"})
    for key, value in {**env, "AWS_ENDPOINT_URL": provisioned.endpoint_url}.items():
        monkeypatch.setenv(key, value)
    for key, value in CREDENTIALS_ENV.items():
        monkeypatch.setenv(key, value)
    iceberg.catalog.cache_clear()  # the catalog is built from the environment once
    yield provisioned.names
    iceberg.catalog.cache_clear()
