"""Read back what a run left in the local lakehouse: ledger, execution history, tables.

Used by the demo's summary and by the tests, so that every figure they show or check comes from
where the pipeline wrote it, never from the inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
from boto3.dynamodb.types import TypeDeserializer

from lakehouse_ops.environment import Environment
from lakehouse_ops.naming import PIPELINE
from local.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, client
from local.stack import LocalStack


@dataclass
class Lakehouse:
    stack: LocalStack

    @cached_property
    def endpoint_url(self) -> str:
        url = self.stack.endpoint_url()
        if not url:
            raise RuntimeError("the local stack is not running: python -m local.stack up")
        return url

    @cached_property
    def resources(self) -> dict:
        return json.loads((self.stack.dir / "stack.json").read_text())

    def client(self, service: str):
        return client(service, self.endpoint_url)

    # -- run ledger (DynamoDB) -------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run record of the pipeline, newest first."""
        ddb = self.client("dynamodb")
        items, kwargs = [], {}
        while True:
            page = ddb.query(
                TableName=self.resources["names"]["runs_table"],
                KeyConditionExpression="pipeline = :p",
                ExpressionAttributeValues={":p": {"S": PIPELINE}},
                ConsistentRead=True,
                **kwargs,
            )
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        deserializer = TypeDeserializer()
        records = [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]
        for record in records:
            record["stages"] = {
                name: json.loads(value) for name, value in (record.get("stages") or {}).items()
            }
        return sorted(records, key=lambda r: r.get("started_at", ""), reverse=True)

    def run(self, run_id: str) -> dict:
        for record in self.runs():
            if record["run_id"] == run_id:
                return record
        raise KeyError(f"run {run_id} is not in the ledger")

    # -- Step Functions --------------------------------------------------------------------
    def lambda_invocations(self, execution_arn: str) -> list[dict]:
        """The Lambda tasks of an execution, in order, with their outcome."""
        sfn = self.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        by_id = {event["id"]: event for event in events}
        invocations = []
        for event in events:
            details = event.get("taskScheduledEventDetails")
            if details and details["resourceType"] == "lambda":
                function = json.loads(details["parameters"])["FunctionName"].split(":")[-1]
                outcome = next(
                    (
                        later["type"]
                        for later in events
                        if later["id"] > event["id"]
                        and later["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut")
                        and _scheduled_of(later, by_id) == event["id"]
                    ),
                    "unknown",
                )
                invocations.append({"function": function, "outcome": outcome})
        return invocations

    # -- Iceberg tables (Glue catalog + S3) --------------------------------------------------
    @cached_property
    def environment(self) -> Environment:
        """The stack as the operator's command addresses it (lakehouse_ops)."""
        return Environment(
            self.stack.environment,
            region=REGION,
            endpoint_url=self.endpoint_url,
            credentials={
                "aws_access_key_id": ACCESS_KEY_ID,
                "aws_secret_access_key": SECRET_ACCESS_KEY,
            },
        )

    @property
    def catalog(self):
        return self.environment.catalog

    def iceberg_table(self, name: str, database: str | None = None):
        """The pyiceberg Table (curated database unless told otherwise)."""
        database = database or self.resources["names"]["curated_database"]
        return self.catalog.load_table((database, name))

    def table(self, name: str, database: str | None = None) -> pa.Table:
        return self.iceberg_table(name, database).scan().to_arrow()

    def test_results(self, invocation_id: str | None = None) -> pa.Table:
        results = self.table(
            "elementary_test_results", self.resources["names"]["elementary_database"]
        )
        if invocation_id is None:
            return results
        import pyarrow.compute as pc

        return results.filter(pc.equal(results["invocation_id"], invocation_id))

    def alerts(self, max_messages: int = 10) -> list[dict]:
        """Alerts delivered to the local inbox queue (consumes them)."""
        sqs = self.client("sqs")
        url = self.resources["alerts_queue_url"]
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            received = batch.get("Messages") or []
            for message in received:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if not received or len(messages) >= max_messages:
                return messages


def _scheduled_of(event: dict, by_id: dict) -> int | None:
    """Walk back from a task outcome to its TaskScheduled event."""
    current = by_id.get(event.get("previousEventId"))
    while current is not None:
        if current["type"] == "TaskScheduled":
            return current["id"]
        current = by_id.get(current.get("previousEventId"))
    return None
