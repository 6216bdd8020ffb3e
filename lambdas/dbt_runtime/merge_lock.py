"""One run at a time merges into the marts: a lease in the run ledger's DynamoDB table.

Runs of different intervals parse their raw data at the same time (each into relations of its
own), but their merge windows may overlap, and a mart built from another (daily_metrics from
fct_events) is only right when no other run's merge lands between its read and its commit; on
Athena dbt-athena's temporary relations (`<model>__dbt_tmp`) would collide too. So the marts
stage of a run holds this lease for as long as it merges. A run that finds it taken raises
MartsLockBusy at once, before dbt starts: the state machine retries the stage later (its
Retry waits in Step Functions, not in a running function).

The lease expires by itself when the holder's function could no longer be running (its
remaining time plus a margin), so a crashed or timed-out function never blocks later runs.
A conditional write is DynamoDB's own compare-and-set, which is why no library is needed here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dbt_runtime.settings import Settings

LOCK_NAME = "marts"
# Seconds the lease outlives the holder's remaining time: clock skew and the release call.
MARGIN_S = 60


class MartsLockBusy(RuntimeError):
    """Another run is merging into the marts. The state machine retries this error name."""


# The lease is an item of the run ledger: its key and TTL attribute are the ledger's
# (contracts/run_record.json; lambdas/contracts is the repository's contracts/), so DynamoDB
# also reaps a lease its holder never released.
_LEDGER = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts" / "run_record.json").read_text()
)
HASH_KEY, RANGE_KEY = _LEDGER["key"]["hash"], _LEDGER["key"]["range"]
EXPIRES_AT = _LEDGER["ttl_attribute"]


def _key(pipeline: str) -> dict:
    # Its own partition key, so the lease never shows among the pipeline's runs.
    return {HASH_KEY: {"S": f"{pipeline}#lock"}, RANGE_KEY: {"S": LOCK_NAME}}


def _client(settings: Settings):
    import boto3

    return boto3.client("dynamodb", endpoint_url=settings.endpoint_url, region_name=settings.region)


@contextmanager
def held(settings: Settings, pipeline: str, holder: str, lease_s: float) -> Iterator[None]:
    """Hold the marts lease for `holder` (a run id and its execution's run key) while the
    block runs; the same holder may take it again (a retried invocation)."""
    from botocore.exceptions import ClientError

    client = _client(settings)
    now = time.time()
    try:
        client.put_item(
            TableName=settings.runs_table,
            Item={
                **_key(pipeline),
                "holder": {"S": holder},
                "acquired_at": {"N": f"{now:.3f}"},
                EXPIRES_AT: {"N": f"{now + lease_s + MARGIN_S:.3f}"},
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
        current = client.get_item(TableName=settings.runs_table, Key=_key(pipeline)).get("Item")
        other = (current or {}).get("holder", {}).get("S", "another run")
        since = float((current or {}).get("acquired_at", {}).get("N", now))
        raise MartsLockBusy(
            f"run {other} has been merging into the marts for {now - since:.0f} s; "
            "this run's marts stage starts when it ends"
        ) from None
    try:
        yield
    finally:
        try:
            client.delete_item(
                TableName=settings.runs_table,
                Key=_key(pipeline),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            # Expired and taken over: the lease is no longer ours to release.
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
