"""Runs on arrival, the local stack's side: the queue, its DLQ and the raw bucket's notification
as contracts/raw_arrivals.json says (Terraform's module reads the same file), the setting kept
across `up`, and the emulator's S3 events read back as the day of the file that landed."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lakehouse.arrivals import arrived_days

from local.provision import RAW_ARRIVALS_CONTRACT, RAW_DATASETS
from tests.stacks import started_stack

pytestmark = pytest.mark.integration


def test_the_queue_announces_each_dataset_s_new_files_for_their_day(tmp_path):
    with started_stack(tmp_path / "stack", start_on_arrival=True) as (stack, provisioned, lh):
        url = provisioned.raw_arrivals_queue_url
        assert provisioned.airflow_env()["AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL"] == url
        # `up` without the flag (make airflow's) keeps the setting.
        assert stack.up().raw_arrivals_queue_url == url
        sqs, s3 = lh.client("sqs"), lh.client("s3")
        settings = RAW_ARRIVALS_CONTRACT["queue"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_url = sqs.get_queue_url(QueueName=provisioned.names.raw_arrivals_dlq)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": settings["max_receive_count"],
        }
        assert attributes["VisibilityTimeout"] == str(settings["visibility_timeout_seconds"])
        assert attributes["MessageRetentionPeriod"] == str(settings["message_retention_seconds"])
        assert attributes["SqsManagedSseEnabled"] == "true"
        [statement] = json.loads(attributes["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == (
            f"arn:aws:s3:::{provisioned.names.raw_bucket}"
        )
        notification = s3.get_bucket_notification_configuration(
            Bucket=provisioned.names.raw_bucket
        )["QueueConfigurations"]
        assert sorted(c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in notification) == [
            f"{dataset}/" for dataset in sorted(RAW_DATASETS)
        ]

        bucket = provisioned.names.raw_bucket
        s3.put_object(Bucket=bucket, Key="events/dt=2026-10-07/part-00000.jsonl", Body=b"{}\n")
        s3.put_object(Bucket=bucket, Key="users/dt=2026-10-08/users.jsonl", Body=b"{}\n")
        s3.put_object(Bucket=bucket, Key="scratch/dt=2026-10-09/x.jsonl", Body=b"{}\n")
        messages = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            messages += batch
        # What the asset watcher's trigger event carries, as the DAG's plan_run reads it.
        extra = {"from_trigger": True, "payload": {"message_batch": messages}}
        assert arrived_days([extra]) == [date(2026, 10, 7), date(2026, 10, 8)]


def test_off_by_default(tmp_path):
    with started_stack(tmp_path / "stack") as (_stack, provisioned, lh):
        assert provisioned.raw_arrivals_queue_url is None
        assert "AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL" not in provisioned.airflow_env()
        queues = lh.client("sqs").list_queues().get("QueueUrls", [])
        assert not [q for q in queues if provisioned.names.raw_arrivals_queue in q]
