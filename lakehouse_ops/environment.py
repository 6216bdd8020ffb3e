"""One deployment of the lakehouse, addressed the same way on AWS and on the local stack: the
naming rule gives every resource's name from a prefix and an environment, and an optional
endpoint (the emulator's) and credentials say where those resources are.

On AWS the normal credential chain and region apply (no endpoint); the local stack's adapter
(local/cli.py) passes its endpoint and dummy credentials. Nothing here knows which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lakehouse_ops.naming import PIPELINE, ResourceNames, resource_names


@dataclass(frozen=True)
class Environment:
    name: str
    prefix: str = "lakehouse"
    bucket_suffix: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    # aws_access_key_id / aws_secret_access_key; None: the normal credential chain.
    credentials: dict | None = field(default=None, repr=False)

    @cached_property
    def names(self) -> ResourceNames:
        return resource_names(self.prefix, self.name, self.bucket_suffix)

    @property
    def pipeline(self) -> str:
        return PIPELINE

    @cached_property
    def session(self):
        import boto3

        return boto3.session.Session(region_name=self.region, **(self.credentials or {}))

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    @cached_property
    def catalog(self):
        """pyiceberg's Glue catalog of the environment: the marts and Elementary's tables are
        Iceberg tables in Glue on AWS (dbt-athena, the test-executor) as locally."""
        from pyiceberg.catalog import load_catalog

        credentials = self.session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials else None
        properties = {"type": "glue", "glue.region": self.session.region_name}
        s3 = {"s3.region": self.session.region_name}
        if frozen is not None:
            for prefix, target in (("glue.", properties), ("s3.", s3)):
                target[f"{prefix}access-key-id"] = frozen.access_key
                target[f"{prefix}secret-access-key"] = frozen.secret_key
                if frozen.token:
                    target[f"{prefix}session-token"] = frozen.token
        if self.endpoint_url:
            properties["glue.endpoint"] = self.endpoint_url
            s3 |= {"s3.endpoint": self.endpoint_url, "s3.path-style-access": "true"}
        return load_catalog("glue", **properties, **s3)

    def iceberg_table(self, name: str, database: str | None = None):
        """A pyiceberg Table (the curated database unless told otherwise)."""
        return self.catalog.load_table((database or self.names.curated_database, name))
