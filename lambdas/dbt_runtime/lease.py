"""Leases in the run ledger's DynamoDB table: one holder at a time for a named piece of work.

Two uses: the marts stage, one run merging at a time (merge_lock.py), and the ingest function,
one invocation ingesting a source-day at a time (handlers/ingest.py). Whoever finds a lease
taken raises at once, before doing anything, an error the state machine retries later (its
Retry waits in Step Functions, not in a running function).

A lease expires by itself when its holder's function could no longer be running (its remaining
time plus a margin), so a crashed or timed-out function never blocks the next holder. A
conditional write is DynamoDB's own compare-and-set, which is why no library is needed here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Seconds a lease outlives the holder's remaining time: clock skew and the release call.
MARGIN_S = 60

# A lease is an item of the run ledger: its key and TTL attribute are the ledger's
# (contracts/run_record.json; lambdas/contracts is the repository's contracts/), so DynamoDB
# also reaps a lease its holder never released.
_LEDGER = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts" / "run_record.json").read_text()
)
HASH_KEY, RANGE_KEY = _LEDGER["key"]["hash"], _LEDGER["key"]["range"]
EXPIRES_AT = _LEDGER["ttl_attribute"]


@dataclass(frozen=True)
class Table:
    name: str
    endpoint_url: str | None
    region: str | None

    def client(self):
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.endpoint_url, region_name=self.region)


def key(pipeline: str, name: str) -> dict:
    # Its own partition key, so no lease ever shows among the pipeline's runs.
    return {HASH_KEY: {"S": f"{pipeline}#lock"}, RANGE_KEY: {"S": name}}


@contextmanager
def held(
    table: Table,
    pipeline: str,
    name: str,
    holder: str,
    lease_s: float,
    busy: Callable[[str, float], Exception],
    margin_s: float = MARGIN_S,
) -> Iterator[None]:
    """Hold the lease `name` of `pipeline` for `holder` while the block runs; the same holder
    may take it again (a retried invocation). When another holder has it, raise
    `busy(other holder, seconds it has held it)`."""
    from botocore.exceptions import ClientError

    client = table.client()
    now = time.time()
    try:
        client.put_item(
            TableName=table.name,
            Item={
                **key(pipeline, name),
                "holder": {"S": holder},
                "acquired_at": {"N": f"{now:.3f}"},
                EXPIRES_AT: {"N": f"{now + lease_s + margin_s:.3f}"},
            },
            ConditionExpression=(
                "attribute_not_exists(#range) OR holder = :holder OR #expires < :now"
            ),
            ExpressionAttributeNames={"#range": RANGE_KEY, "#expires": EXPIRES_AT},
            ExpressionAttributeValues={":holder": {"S": holder}, ":now": {"N": f"{now:.3f}"}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        current = client.get_item(TableName=table.name, Key=key(pipeline, name)).get("Item")
        other = (current or {}).get("holder", {}).get("S", "another holder")
        since = float((current or {}).get("acquired_at", {}).get("N", now))
        raise busy(other, now - since) from None
    try:
        yield
    finally:
        try:
            client.delete_item(
                TableName=table.name,
                Key=key(pipeline, name),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            # Expired and taken over: the lease is no longer ours to release.
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
