"""boto3 clients for the local emulator (fixed dummy credentials, one region)."""

from __future__ import annotations

import boto3

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account


def client(service: str, endpoint_url: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
