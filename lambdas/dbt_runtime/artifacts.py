"""One execution's dbt artifacts in S3, from the invocations that made them to their one recorder.

The models run in the dbt-executor (staging and marts: separate Lambda invocations) and the tests
in the test-executor, which is the only writer of Elementary's tables. So every function leaves
each dbt invocation's artifacts here, and the test-executor reads back all of its execution's:

  <DBT_ARTIFACTS_S3><run id>/<execution name>/<invocation id>.json

The test-executor's data-quality report of each execution (dbt_runtime.dq_report) is kept
beside them, under a prefix of its own that the Airflow view may read (and nothing else here):

  <DBT_ARTIFACTS_S3><reports_prefix>/<run id>/<execution name>.html   (contracts/functions.json)

One object per dbt invocation: run_results' results, metadata and args, the manifest nodes
Elementary's tables are made of (models and tests, trimmed to the fields used), and the rows per
model that the dbt-executor counted where the adapter reports none. Keyed by execution, not only
by run: a retry or redrive is a new execution and records its own invocations, while a repeated
write of the same execution finds the same invocation ids (and replaces their rows).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from dbt_runtime.dbt_invocation import DbtOutcome, InvalidEvent, utc_now
from dbt_runtime.settings import Settings

NODE_TYPES = ("model", "test", "seed", "snapshot")
NODE_FIELDS = (
    "unique_id",
    "resource_type",
    "name",
    "alias",
    "database",
    "schema",
    "package_name",
    "path",
    "original_file_path",
    "patch_path",
    "checksum",
    "tags",
    "meta",
    "description",
    "depends_on",
    "test_metadata",
    "column_name",
    "attached_node",
    "relation_name",
    "group",
    "access",
)
CONFIG_FIELDS = (
    "materialized",
    "severity",
    "warn_if",
    "error_if",
    "tags",
    "meta",
    "unique_key",
    "incremental_strategy",
    "group",
    "access",
)
ARG_FIELDS = ("which", "select", "exclude", "selector", "vars", "full_refresh", "target", "threads")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._=-]")
# lambdas/contracts is the repository's contracts/ (the image carries it beside dbt_runtime/).
REPORTS_PREFIX: str = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts" / "functions.json").read_text()
)["reports_prefix"]


@lru_cache(maxsize=4)
def _s3(endpoint_url: str | None, region: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)


def s3_client(settings: Settings):
    return _s3(settings.endpoint_url, settings.region)


def _places(settings: Settings, event: dict) -> tuple[str, str, str, str]:
    """(bucket, artifacts prefix, run id, execution name), the last two made safe for keys."""
    run_id = str(event.get("run_id") or "").strip()
    if not run_id:
        raise InvalidEvent("event.run_id is required to keep or read dbt artifacts")
    execution = str(event.get("execution_id") or "").rsplit(":", 1)[-1] or "no-execution"
    bucket, _, prefix = settings.dbt_artifacts_s3.removeprefix("s3://").partition("/")
    # Airflow run ids carry ':' and '+', which some S3 tools mangle: keep keys plain.
    safe = [_UNSAFE_KEY_CHARS.sub("_", part) for part in (run_id, execution)]
    return bucket, prefix, safe[0], safe[1]


def location(settings: Settings, event: dict) -> tuple[str, str]:
    """(bucket, key prefix) of the execution's artifacts."""
    bucket, prefix, run, execution = _places(settings, event)
    return bucket, f"{prefix}{run}/{execution}/"


def report_location(settings: Settings, event: dict) -> tuple[str, str]:
    """(bucket, key) of the execution's data-quality report."""
    bucket, prefix, run, execution = _places(settings, event)
    return bucket, f"{prefix}{REPORTS_PREFIX}/{run}/{execution}.html"


def _trim_node(node: dict) -> dict:
    trimmed = {k: node[k] for k in NODE_FIELDS if k in node}
    config = node.get("config") or {}
    trimmed["config"] = {k: config[k] for k in CONFIG_FIELDS if k in config}
    if node.get("resource_type") == "test":
        trimmed["compiled_code"] = node.get("compiled_code")
    return trimmed


def document(
    event: dict, stage: str, outcome: DbtOutcome, row_counts: dict[str, int] | None = None
) -> dict:
    """What is kept of one dbt invocation."""
    return {
        "stage": stage,
        "run_id": event.get("run_id"),
        "pipeline": event.get("pipeline"),
        "execution_id": event.get("execution_id"),
        "interval": event.get("interval"),
        "command": outcome.command,
        "invocation_id": outcome.invocation_id,
        "success": outcome.success,
        "exception": outcome.exception,
        "elapsed_s": round(outcome.elapsed_s, 3),
        "full_refresh": outcome.full_refresh,
        "metadata": outcome.metadata,
        "args": {k: outcome.args[k] for k in ARG_FIELDS if k in outcome.args},
        "results": outcome.results,
        "nodes": {
            uid: _trim_node(node)
            for uid, node in outcome.manifest_nodes.items()
            if node.get("resource_type") in NODE_TYPES
        },
        "row_counts": row_counts or {},
        "saved_at": utc_now(),
    }


def save(
    settings: Settings,
    event: dict,
    stage: str,
    outcome: DbtOutcome,
    row_counts: dict[str, int] | None = None,
) -> str:
    """Keep one invocation's artifacts (one object, one PUT); returns its s3:// URI."""
    bucket, prefix = location(settings, event)
    key = f"{prefix}{outcome.invocation_id}.json"
    body = json.dumps(document(event, stage, outcome, row_counts), default=str)
    _s3(settings.endpoint_url, settings.region).put_object(
        Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"


def load(settings: Settings, event: dict) -> list[dict]:
    """Every kept invocation of the event's execution, oldest first."""
    bucket, prefix = location(settings, event)
    s3 = _s3(settings.endpoint_url, settings.region)
    documents = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            if item["Key"].endswith(".json"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                documents.append(json.loads(body))
    return sorted(documents, key=started_at)


def started_at(doc: dict) -> str:
    metadata = doc.get("metadata") or {}
    return metadata.get("invocation_started_at") or metadata.get("generated_at") or ""
