"""boto3 clients for the local emulator (fixed dummy credentials, one region)."""

from __future__ import annotations

import boto3

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
# The emulator's dummy credentials: anything is accepted, but Airflow masks credential values
# wherever they appear in its task logs, so they must be words no log otherwise holds (as
# `local` they hid every "local" of a resource name or path as ***).
ACCESS_KEY_ID = "LAKEHOUSEEMULATORKEY"
SECRET_ACCESS_KEY = "lakehouse-emulator-dummy-secret"
CREDENTIALS_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}


def client(service: str, endpoint_url: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
