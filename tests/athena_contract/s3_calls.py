"""The S3 calls each dbt runtime function makes, and calls it must never be able to make, as
data: tests/integration/test_s3_least_privilege.py makes each of them with the function's role
(its policy as terraform/modules/workflow declares it) on moto with IAM enforced.

NEEDED is not a guess: every S3 call the Athena contract runs record (the handlers' own calls,
dbt-athena's, pyiceberg's through pyarrow, and what Athena does in S3 with the caller's
permissions) must match one of its entries, by function, origin, operation, bucket and key
shape (tests/integration/test_athena_contract.py checks it with `unlisted`). A call the code
starts making fails there until it is listed here, and is then tried against the role.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

from lakehouse_ops.naming import RULE
from tests.api_sources import fake_api_sources
from tests.athena_contract import iam
from tests.athena_contract.runs import NAMES, REGION, WORKGROUP

DBT_FUNCTIONS = ("dbt_executor", "test_executor")
FUNCTIONS = (*DBT_FUNCTIONS, "ingest")
_CONTRACT = json.loads(iam.FUNCTIONS_CONTRACT.read_text())
ARTIFACTS = _CONTRACT["dbt_artifacts_prefix"]
# The sources the ingest role is rendered for: the fake API's two, enabled, as a deployment
# declares its own in contracts/sources.json (whose checked-in example is disabled).
INGEST_SOURCES = {
    **json.loads(iam.SOURCES_CONTRACT.read_text()),
    "sources": {name: {**s, "enabled": True} for name, s in fake_api_sources(100, 3).items()},
}
REPORTS = f"{ARTIFACTS}/{_CONTRACT['reports_prefix']}"
# The workflow module's variables for this environment (what the sandbox passes it).
POLICY_VARS = {
    **NAMES.as_dict(),
    "athena_workgroup": WORKGROUP,
    "kms_key_arn": f"arn:aws:kms:{REGION}:{iam.ACCOUNT}:key/ci",
    "runs_table_arn": f"arn:aws:dynamodb:{REGION}:{iam.ACCOUNT}:table/{NAMES.runs_table}",
}
# Buckets of the account no function is granted: the orchestration's and the access logs'
# (the naming rule's, for the environment whose workgroup is named `{dash}`).
OTHER_BUCKETS = {
    what: RULE["aws_only_names"][what].format(dash=WORKGROUP, bucket="")
    for what in ("mwaa_bucket", "access_logs_bucket")
}
BUCKETS = {
    "raw": NAMES.raw_bucket,
    "curated": NAMES.curated_bucket,
    "results": NAMES.query_results_bucket,
    "mwaa": OTHER_BUCKETS["mwaa_bucket"],
    "logs": OTHER_BUCKETS["access_logs_bucket"],
}
_PLACES = {
    "curated": NAMES.curated_database,
    "elementary": NAMES.elementary_database,
    "raw_db": NAMES.raw_database,
    "artifacts": ARTIFACTS,
    # one execution's artifacts: <run id>/<execution name>/<invocation id>.json
    "execution": f"{ARTIFACTS}/scheduled__ci/first",
    "ingest": f"{_CONTRACT['ingest_state_prefix']}/fake_events/dt=2026-11-20",
    "page": "events/dt=2026-11-20/fake_events-page-00001.jsonl",
    "reports": REPORTS,
}


@dataclass(frozen=True)
class S3Call:
    """One S3 call of a function's role: `bucket` is a key of BUCKETS, `key` (the Prefix of a
    list) is the one tried, with {curated}-style placeholders (_PLACES); `shape` is the fnmatch
    pattern of the recorded keys it stands for (the key itself by default). `why`: the code
    that makes it (NEEDED) or the reason it must be refused (FORBIDDEN)."""

    function: str
    operation: str
    bucket: str
    key: str
    why: str
    shape: str | None = None
    # "athena": Athena makes it while running the function's statement, with its permissions
    via: str = "client"

    @property
    def bucket_name(self) -> str:
        return BUCKETS[self.bucket]

    @property
    def object_key(self) -> str:
        return self.key.format(**_PLACES)

    @property
    def key_shape(self) -> str:
        return (self.key if self.shape is None else self.shape).format(**_PLACES)

    def __str__(self) -> str:
        by = " (by Athena)" if self.via == "athena" else ""
        return f"{self.operation} s3://{self.bucket_name}/{self.object_key}{by}"


def _both(operation: str, bucket: str, key: str, why: str, **kw) -> list[S3Call]:
    return [S3Call(f, operation, bucket, key, why, **kw) for f in DBT_FUNCTIONS]


def _ingest(operation: str, bucket: str, key: str, why: str) -> S3Call:
    return S3Call("ingest", operation, bucket, key, why)


_DAY = "events/dt=2026-11-20/part-0000.jsonl"
_MART = "{curated}/fct_events/0b7c/data/part-00000.parquet"
_ELEMENTARY = "{elementary}/dbt_tests/data/00000-0-5e1f.parquet"
_ELEMENTARY_METADATA = "{elementary}/dbt_tests/metadata/00001-9c2d.metadata.json"
_INVOCATION = "{execution}/1f0e-invocation.json"
_PARSE = "{artifacts}/parses/first.json"
_REPORT = "{reports}/scheduled__ci/first.html"
_PARSES = "the dbt-executor's parse records"
_ELEMENTARYS = "Elementary's tables are the test-executor's"
_MARTS = "the models' tables are the dbt-executor's"
_READ_BY_THE_TESTER = "it writes invocations, the test-executor reads them"

NEEDED = [
    # dbt_runtime.raw_inputs._list: the raw zone's source folders, then each day's objects
    S3Call("dbt_executor", "ListObjectsV2", "raw", "", "raw_inputs._list (source folders)"),
    S3Call(
        "dbt_executor", "ListObjectsV2", "raw", "events/dt=2026-11-20/", "raw_inputs._list",
        shape="*/dt=*/",
    ),
    S3Call(
        "dbt_executor", "GetObject", "raw", _DAY, "raw_inputs.inventory and count_lines",
        shape="*/dt=*/*",
    ),
    S3Call(
        "dbt_executor", "PutObject", "curated", "{artifacts}/parses/first.json",
        "raw_inputs.record (the parse's digest)", shape="{artifacts}/parses/*.json",
    ),
    S3Call(
        "dbt_executor", "GetObject", "curated", "{artifacts}/parses/first.json",
        "raw_inputs.recorded (a redrive)", shape="{artifacts}/parses/*.json",
    ),
    S3Call(
        "dbt_executor", "PutObject", "curated", _INVOCATION, "artifacts.save",
        shape="{artifacts}/*/*/*.json",
    ),
    S3Call(
        "dbt_executor", "ListObjectsV2", "curated", "{curated}/fct_events/0b7c/",
        "dbt-athena (a table's location before it is written)", shape="{curated}/*/",
    ),
    # Athena reads and writes S3 with the caller's permissions (forward access sessions)
    S3Call(
        "dbt_executor", "GetObject", "raw", "events/data/part-00000", "staging reads raw",
        shape="*", via="athena",
    ),
    S3Call(
        "dbt_executor", "GetObject", "curated", _MART, "models read tables",
        shape="{curated}/*", via="athena",
    ),
    S3Call(
        "dbt_executor", "PutObject", "curated", _MART, "models write tables",
        shape="{curated}/*", via="athena",
    ),
    # Not recorded (the harness does not model it): Athena's DROP TABLE of an Iceberg table
    # (a full refresh's backup, the cleanup stage's run-scoped tables) deletes its files.
    S3Call("dbt_executor", "DeleteObject", "curated", _MART, "DROP TABLE", via="athena"),
    *_both(
        "PutObject", "results", "3c1d.csv", "every statement's result", shape="*", via="athena"
    ),
    S3Call(
        "test_executor", "GetObject", "curated", _MART, "the tests read the models",
        shape="{curated}/*", via="athena",
    ),
    S3Call(
        "test_executor", "PutObject", "curated", _INVOCATION, "artifacts.save (its dbt test)",
        shape="{artifacts}/*/*/*.json",
    ),
    S3Call(
        "test_executor", "ListObjectsV2", "curated", "{execution}/", "artifacts.load",
        shape="{artifacts}/*/*/",
    ),
    S3Call(
        "test_executor", "PutObject", "curated", _REPORT, "dq_report.publish (the run's report)",
        shape="{reports}/*/*.html",
    ),
    S3Call(
        "test_executor", "GetObject", "curated", _INVOCATION,
        "artifacts.load (the dbt-executor's invocations too)", shape="{artifacts}/*/*/*.json",
    ),
    # dbt_runtime.iceberg writes Elementary's tables through pyiceberg, whose pyarrow FileIO
    # uploads every data and metadata file in parts, checks and reads them back
    *[
        S3Call(
            "test_executor", operation, "curated", _ELEMENTARY, "iceberg (pyarrow's uploads)",
            shape="{elementary}/*",
        )
        for operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
    ],
    S3Call(
        "test_executor", "AbortMultipartUpload", "curated", _ELEMENTARY,
        "iceberg (pyarrow, an upload that failed)", shape="{elementary}/*",
    ),
    *[
        S3Call(
            "test_executor", operation, "curated", _ELEMENTARY_METADATA,
            "iceberg (pyiceberg reading metadata)", shape="{elementary}/*",
        )
        for operation in ("HeadObject", "GetObject")
    ],
    S3Call(
        "test_executor", "ListObjectsV2", "curated", _ELEMENTARY_METADATA + "/",
        "iceberg (pyarrow's file info)", shape="{elementary}/*",
    ),
]  # fmt: skip

# dbt_runtime.ingestion: not in the Athena contract runs (no dbt); read off the code, and run
# against the fake API by tests/integration/test_ingest.py
NEEDED += [
    _ingest("ListObjectsV2", "raw", "{ingest}/pages/", "ingestion._list (staged pages)"),
    _ingest("GetObject", "raw", "{ingest}/state.json", "ingestion._read_state (a resume)"),
    _ingest("PutObject", "raw", "{ingest}/state.json", "ingestion._write_state"),
    _ingest("PutObject", "raw", "{ingest}/pages/page-00001.jsonl", "ingestion (a staged page)"),
    _ingest("GetObject", "raw", "{ingest}/pages/page-00001.jsonl", "ingestion._land (copy source)"),
    _ingest("DeleteObject", "raw", "{ingest}/pages/page-00001.jsonl", "ingestion._land"),
    _ingest("ListObjectsV2", "raw", "events/dt=2026-11-20/fake_events-page-", "ingestion._land"),
    _ingest("PutObject", "raw", "{page}", "ingestion._land (copy target)"),
    _ingest("GetObject", "raw", "{page}", "ingestion._land (a rerun's bytes)"),
]  # fmt: skip

LANDED = "a landed raw object is never modified or deleted"
_UPSTREAM = "events/dt=2026-11-20/part-0000.jsonl"

FORBIDDEN = [
    _ingest("DeleteObject", "raw", "{page}", LANDED),
    _ingest("PutObject", "raw", _UPSTREAM, "raw objects it did not ingest are out of its reach"),
    _ingest("GetObject", "raw", _UPSTREAM, "raw objects it did not ingest are out of its reach"),
    _ingest("PutObject", "raw", "events/dt=2026-11-20/other_api-page-00001.jsonl",
            "another source's pages"),
    _ingest("PutObject", "raw", "x.jsonl", "nothing at the raw bucket's root"),
    _ingest("PutObject", "curated", "{curated}/fct_events/x.parquet", "the curated zone is dbt's"),
    _ingest("GetObject", "curated", _INVOCATION, "the curated zone is dbt's"),
    _ingest("ListObjectsV2", "curated", "", "the curated zone is dbt's"),
    _ingest("PutObject", "results", "3c1d.csv", "it runs no query"),
    _ingest("GetObject", "mwaa", "dags/lakehouse_raw_to_curated.py", "the orchestration's"),
    _ingest("PutObject", "logs", "x", "the access logs"),
    *_both("PutObject", "raw", _DAY, "raw data is never modified"),
    *_both("DeleteObject", "raw", _DAY, "raw data is never deleted"),
    *_both("CreateMultipartUpload", "raw", _DAY, "raw data is never modified"),
    *_both("PutObject", "curated", "{raw_db}/events/x.parquet", "no zone but its own"),
    *_both("PutObject", "curated", "x.parquet", "nothing at the curated bucket's root"),
    *_both("DeleteObject", "curated", _INVOCATION, "dbt artifacts are kept"),
    *_both("GetObject", "mwaa", "dags/lakehouse_raw_to_curated.py", "the orchestration's"),
    *_both("PutObject", "mwaa", "plugins.zip", "the orchestration's"),
    *_both("ListObjectsV2", "mwaa", "", "the orchestration's"),
    *_both("PutObject", "logs", "x", "the access logs"),
    *_both("DeleteObject", "results", "3c1d.csv", "query results expire by lifecycle"),
    *[
        S3Call("dbt_executor", operation, "curated", key, _ELEMENTARYS)
        for operation, key in (
            ("PutObject", _ELEMENTARY),
            ("DeleteObject", _ELEMENTARY),
            ("GetObject", _ELEMENTARY_METADATA),
        )
    ],
    S3Call("dbt_executor", "GetObject", "curated", _INVOCATION, _READ_BY_THE_TESTER),
    *[
        S3Call("test_executor", operation, "curated", _MART, _MARTS)
        for operation in ("PutObject", "DeleteObject")
    ],
    S3Call("test_executor", "PutObject", "curated", _PARSE, f"{_PARSES} (a redrive trusts them)"),
    S3Call("test_executor", "GetObject", "curated", _PARSE, _PARSES),
    S3Call("dbt_executor", "PutObject", "curated", _REPORT, "the reports are the test-executor's"),
]  # fmt: skip


def unlisted(recorded) -> list[str]:
    """The recorded S3 calls (function, via, operation, bucket, key or prefix) no NEEDED entry
    stands for."""
    missing = set()
    for function, via, operation, bucket, key in recorded:
        if not any(
            (n.function, n.via, n.operation, n.bucket_name) == (function, via, operation, bucket)
            and fnmatch.fnmatchcase(key, n.key_shape)
            for n in NEEDED
        ):
            missing.add(f"{function}: {operation} s3://{bucket}/{key} ({via})")
    return sorted(missing)
