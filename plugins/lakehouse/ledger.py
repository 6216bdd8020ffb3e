"""The run ledger: one DynamoDB item per DAG run (pk `pipeline`, sk `run_id`).

The DAG writes the start and the crawler stage; the state machine writes the dbt stages and
the outcome. Stages are JSON documents under `stages.<name>` in both writers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunLedger:
    def __init__(self, table_name: str, aws_conn_id: str = "aws_default"):
        self.table_name = table_name
        self.hook = DynamoDBHook(aws_conn_id=aws_conn_id, table_name=table_name)

    @property
    def _table(self):
        return self.hook.conn.Table(self.table_name)

    def record_started(self, plan: dict, triggered_by: str, run_type: str) -> None:
        """(Re)start the record of a run: a rerun of the same DAG run starts a fresh record."""
        self._table.put_item(
            Item={
                "pipeline": plan["pipeline"],
                "run_id": plan["run_id"],
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
            Key={"pipeline": pipeline, "run_id": run_id},
            UpdateExpression="SET redriven_by = :by, updated_at = :now",
            ExpressionAttributeValues={":by": redriven_by, ":now": _now()},
        )

    def record_stage(self, pipeline: str, run_id: str, stage: str, record: dict) -> None:
        self._table.update_item(
            Key={"pipeline": pipeline, "run_id": run_id},
            UpdateExpression="SET stages.#stage = :record, updated_at = :now",
            ExpressionAttributeNames={"#stage": stage},
            ExpressionAttributeValues={":record": json.dumps(record), ":now": _now()},
        )

    def mark_failed_if_running(
        self, pipeline: str, run_id: str, stage: str, error: str, cause: str
    ) -> bool:
        """Record a failure the state machine did not see (it records its own, with its cause)."""
        from botocore.exceptions import ClientError

        try:
            self._table.update_item(
                Key={"pipeline": pipeline, "run_id": run_id},
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
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def get(self, pipeline: str, run_id: str) -> dict | None:
        return self._table.get_item(
            Key={"pipeline": pipeline, "run_id": run_id}, ConsistentRead=True
        ).get("Item")
