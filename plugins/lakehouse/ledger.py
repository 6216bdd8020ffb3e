"""The run ledger: one DynamoDB item per DAG run (pk `pipeline`, sk `run_id`).

The DAG writes the start, the crawler stage and the run's duration; the state machine writes the
dbt stages and the outcome. Stages are JSON documents under `stages.<name>` in both writers.

In Airflow the table is reached through the Amazon provider's DynamoDBHook (the `aws_default`
connection); the `runs` CLI passes a plain boto3 resource instead, so the same reads serve both
and the CLI needs no Airflow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from lakehouse.run_record import HASH_KEY, RANGE_KEY, SUMMARY_ATTRIBUTES


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _key(pipeline: str, run_id: str) -> dict:
    return {HASH_KEY: pipeline, RANGE_KEY: run_id}


def elapsed_s(started_at: str | None, finished_at: str | None) -> float | None:
    """Seconds between two ledger stamps (ISO 8601; Step Functions writes `Z` stamps)."""
    if not started_at or not finished_at:
        return None
    start = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    end = datetime.fromisoformat(finished_at.replace("Z", "+00:00"))
    return round((end - start).total_seconds(), 3)


def console_region(hook) -> str | None:
    """The region for AWS console links, or None when the connection points at an emulator."""
    if hook.conn_config.endpoint_url:
        return None
    return hook.conn_region_name


class RunNotFound(LookupError):
    """The run id is not in the ledger."""


class RunLedger:
    def __init__(self, table_name: str, aws_conn_id: str = "aws_default", dynamodb=None):
        """`dynamodb`: a boto3 DynamoDB service resource; without one, Airflow's connection."""
        self.table_name = table_name
        self.aws_conn_id = aws_conn_id
        self._dynamodb = dynamodb

    @property
    def hook(self):
        # Imported here: the CLI uses the ledger without Airflow installed.
        from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook

        return DynamoDBHook(aws_conn_id=self.aws_conn_id, table_name=self.table_name)

    def console_region(self) -> str | None:
        return console_region(self.hook) if self._dynamodb is None else None

    @property
    def _table(self):
        return (self._dynamodb or self.hook.conn).Table(self.table_name)

    def record_started(self, plan: dict, triggered_by: str, run_type: str) -> None:
        """(Re)start the record of a run: a rerun of the same DAG run starts a fresh record."""
        self._table.put_item(
            Item={
                **_key(plan["pipeline"], plan["run_id"]),
                "status": "RUNNING",
                "interval_start": plan["interval_start"],
                "interval_end": plan["interval_end"],
                "full_refresh": plan["full_refresh"],
                "full_refresh_models": plan.get("full_refresh_models") or [],
                "lookback_days": plan.get("lookback_days"),
                # DynamoDB numbers are Decimals (boto3 rejects floats).
                "max_bad_row_share": None
                if plan.get("max_bad_row_share") is None
                else Decimal(str(plan["max_bad_row_share"])),
                "resume_from": plan.get("resume_from"),
                **({"compute": plan["compute"]} if plan.get("compute") else {}),
                **({"redrive_of": plan["redrive_of"]} if plan.get("redrive_of") else {}),
                "triggered_by": triggered_by,
                "run_type": run_type,
                "started_at": _now(),
                "updated_at": _now(),
                "stages": {},
            }
        )

    def record_redriven(self, pipeline: str, run_id: str, redriven_by: str) -> None:
        """Link a failed run to the run that redrives it (the failed record stays as it was)."""
        self._table.update_item(
            Key=_key(pipeline, run_id),
            UpdateExpression="SET redriven_by = :by, updated_at = :now",
            ExpressionAttributeValues={":by": redriven_by, ":now": _now()},
        )

    def record_stage(self, pipeline: str, run_id: str, stage: str, record: dict) -> None:
        self._table.update_item(
            Key=_key(pipeline, run_id),
            UpdateExpression="SET stages.#stage = :record, updated_at = :now",
            ExpressionAttributeNames={"#stage": stage},
            ExpressionAttributeValues={":record": json.dumps(record), ":now": _now()},
        )

    def record_duration(self, pipeline: str, run_id: str) -> float | None:
        """Store the run's duration (started_at -> finished_at) once the run is final.

        The state machine stamps finished_at but cannot subtract dates (ASL has no date
        arithmetic), so the DAG task that sees the end writes the duration.
        """
        record = self.get(pipeline, run_id) or {}
        duration = elapsed_s(record.get("started_at"), record.get("finished_at"))
        if duration is None:
            return None
        self._table.update_item(
            Key=_key(pipeline, run_id),
            UpdateExpression="SET duration_s = :duration",
            ExpressionAttributeValues={":duration": Decimal(str(duration))},
        )
        return duration

    def record_cost(self, pipeline: str, run_id: str, cost: dict) -> None:
        """Store the run's cost document (lakehouse.cost) as JSON, as the stages are."""
        self._table.update_item(
            Key=_key(pipeline, run_id),
            UpdateExpression="SET #cost = :cost",
            ExpressionAttributeNames={"#cost": "cost"},
            ExpressionAttributeValues={":cost": json.dumps(cost)},
        )

    def mark_failed_if_running(
        self, pipeline: str, run_id: str, stage: str, error: str, cause: str
    ) -> bool:
        """Record a failure the state machine did not see (it records its own, with its cause)."""
        from botocore.exceptions import ClientError

        try:
            self._table.update_item(
                Key=_key(pipeline, run_id),
                UpdateExpression=(
                    "SET #status = :failed, failed_stage = :stage, #error = :error, "
                    "#cause = :cause, finished_at = :now, updated_at = :now"
                ),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#error": "error",
                    "#cause": "cause",
                },
                ExpressionAttributeValues={
                    ":failed": "FAILED",
                    ":running": "RUNNING",
                    ":stage": stage,
                    ":error": error,
                    ":cause": cause[:20_000],
                    ":now": _now(),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        self.record_duration(pipeline, run_id)
        return True

    def get(self, pipeline: str, run_id: str) -> dict | None:
        return self._table.get_item(Key=_key(pipeline, run_id), ConsistentRead=True).get("Item")

    def require(self, pipeline: str, run_id: str) -> dict:
        record = self.get(pipeline, run_id)
        if record is None:
            raise RunNotFound(
                f"run {run_id!r} is not in the run ledger {self.table_name} (pipeline {pipeline})"
            )
        return record

    def recent(self, pipeline: str, limit: int | None = None, status: str | None = None) -> list:
        """The pipeline's runs, newest first (by started_at), optionally of one status.

        Run ids do not sort by time (scheduled__, manual__, backfill__ prefixes), so every item
        of the pipeline is read (summary attributes only: one small item per run) and sorted
        here; a year of daily runs is one or two pages.
        """
        # Placeholders for every attribute: some (status, error) are DynamoDB reserved words.
        names = {f"#{name}": name for name in {HASH_KEY, *SUMMARY_ATTRIBUTES}}
        kwargs: dict = {
            "KeyConditionExpression": f"#{HASH_KEY} = :p",
            "ExpressionAttributeValues": {":p": pipeline},
            "ProjectionExpression": ", ".join(f"#{name}" for name in SUMMARY_ATTRIBUTES),
            "ExpressionAttributeNames": names,
        }
        if status:
            kwargs["FilterExpression"] = "#status = :s"
            kwargs["ExpressionAttributeValues"][":s"] = status
        items: list[dict] = []
        while True:
            page = self._table.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda r: r.get("started_at") or "", reverse=True)
        return items[:limit] if limit else items
