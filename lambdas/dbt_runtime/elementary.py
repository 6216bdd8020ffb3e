"""Elementary's tables, built from dbt's artifacts: elementary_test_results, dbt_run_results,
dbt_invocations, dbt_models and dbt_tests.

The `elementary` dbt package cannot be installed here (no dbt hub), so we write its tables
ourselves, with Elementary's column names and meanings, so `edr` can read them where installed.
Timestamps are ISO strings where Elementary's columns are strings (`generated_at`,
`run_started_at`, ...). Extra columns, after Elementary's:
- elementary_test_results.invocation_id: dbt's, to find one invocation's results;
- dbt_invocations.execution_id, stage, interval_start, interval_end: the Step Functions
  execution, the pipeline stage (dbt_staging, dbt_marts, tests) and the run's data interval
  (the day a daily run is about: a backfill runs many days on one wall-clock day).

Meanings kept from Elementary: one dbt_run_results row per node execution
(`model_execution_id` = invocation id + node id), failed and errored ones included; one
dbt_invocations row per dbt invocation; dbt_models/dbt_tests are the project's current nodes.
Where dbt did not execute a node because the run failed first (dbt's own `skipped`, or a later
stage that never ran), the invocation that failed gets a `skipped` row for it, as `dbt build`
reports the tests of a model that failed. `rows_affected` is the adapter's figure, or, where
the adapter reports none (views; DuckDB), the rows the relation held after the run.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pyarrow as pa

TEST_RESULTS_TABLE = "elementary_test_results"
ANOMALY_TEST_TYPE = "anomaly_detection"

TEST_RESULTS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("data_issue_id", pa.string()),
        ("test_execution_id", pa.string()),
        ("test_unique_id", pa.string()),
        ("model_unique_id", pa.string()),
        ("invocation_id", pa.string()),
        ("detected_at", pa.timestamp("us")),
        ("database_name", pa.string()),
        ("schema_name", pa.string()),
        ("table_name", pa.string()),
        ("column_name", pa.string()),
        ("test_type", pa.string()),
        ("test_sub_type", pa.string()),
        ("test_results_description", pa.string()),
        ("owners", pa.string()),
        ("tags", pa.string()),
        ("test_results_query", pa.string()),
        ("other", pa.string()),
        ("test_name", pa.string()),
        ("test_params", pa.string()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("failures", pa.int64()),
        ("test_short_name", pa.string()),
        ("test_alias", pa.string()),
        ("result_rows", pa.string()),
        ("failed_row_count", pa.int64()),
    ]
)


def _completed_at(result: dict) -> datetime:
    for timing in result.get("timing") or []:
        if timing.get("name") == "execute" and timing.get("completed_at"):
            stamp = datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00"))
            return stamp.astimezone(UTC).replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def test_result_rows(invocation_id: str, results: list[dict], nodes: dict) -> list[dict]:
    rows = []
    for result in results:
        unique_id = result["unique_id"]
        if not unique_id.startswith("test."):
            continue
        node = nodes.get(unique_id, {})
        metadata = node.get("test_metadata") or {}
        model_id = node.get("attached_node") or next(
            iter((node.get("depends_on") or {}).get("nodes") or []), None
        )
        model = nodes.get(model_id or "", {})
        failures = result.get("failures")
        config = node.get("config") or {}
        # The project's anomaly tests (dbt_project/tests/generic) name Elementary's sub-type in
        # their meta: recorded as Elementary records its own anomaly tests.
        anomaly = (config.get("meta") or {}).get("anomaly")
        rows.append(
            {
                "id": f"{invocation_id}.{unique_id}",
                "data_issue_id": None,
                "test_execution_id": f"{invocation_id}.{unique_id}",
                "test_unique_id": unique_id,
                "model_unique_id": model_id,
                "invocation_id": invocation_id,
                "detected_at": _completed_at(result),
                "database_name": model.get("database"),
                "schema_name": model.get("schema"),
                "table_name": relation_name(model),
                "column_name": node.get("column_name"),
                "test_type": ANOMALY_TEST_TYPE if anomaly else "dbt_test",
                "test_sub_type": anomaly or ("generic" if metadata else "singular"),
                "test_results_description": result.get("message"),
                "owners": json.dumps((config.get("meta") or {}).get("owner") or []),
                "tags": json.dumps(node.get("tags") or []),
                "test_results_query": node.get("compiled_code"),
                "other": None,
                "test_name": metadata.get("name") or node.get("name"),
                "test_params": json.dumps(metadata.get("kwargs") or {}, default=str),
                "severity": str(config.get("severity", "ERROR")).upper(),
                "status": result["status"],
                "failures": failures,
                "test_short_name": node.get("name"),
                "test_alias": node.get("alias"),
                "result_rows": None,
                "failed_row_count": failures,
            }
        )
    return rows


def as_arrow(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TEST_RESULTS_SCHEMA)


# -- dbt_run_results, dbt_invocations, dbt_models, dbt_tests -------------------------------------

RUN_RESULTS_TABLE = "dbt_run_results"
INVOCATIONS_TABLE = "dbt_invocations"
MODELS_TABLE = "dbt_models"
TESTS_TABLE = "dbt_tests"

RUN_RESULTS_SCHEMA = pa.schema(
    [
        ("model_execution_id", pa.string()),
        ("unique_id", pa.string()),
        ("invocation_id", pa.string()),
        ("generated_at", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("name", pa.string()),
        ("message", pa.string()),
        ("status", pa.string()),
        ("resource_type", pa.string()),
        ("execution_time", pa.float64()),
        ("execute_started_at", pa.string()),
        ("execute_completed_at", pa.string()),
        ("compile_started_at", pa.string()),
        ("compile_completed_at", pa.string()),
        ("rows_affected", pa.int64()),
        ("full_refresh", pa.bool_()),
        ("compiled_code", pa.string()),
        ("failures", pa.int64()),
        ("query_id", pa.string()),
        ("thread_id", pa.string()),
        ("materialization", pa.string()),
        ("adapter_response", pa.string()),
        ("group_name", pa.string()),
    ]
)

INVOCATIONS_SCHEMA = pa.schema(
    [
        ("invocation_id", pa.string()),
        ("job_id", pa.string()),
        ("job_name", pa.string()),
        ("job_run_id", pa.string()),
        ("run_started_at", pa.string()),
        ("run_completed_at", pa.string()),
        ("generated_at", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("command", pa.string()),
        ("dbt_version", pa.string()),
        ("elementary_version", pa.string()),
        ("full_refresh", pa.bool_()),
        ("invocation_vars", pa.string()),
        ("vars", pa.string()),
        ("target_name", pa.string()),
        ("target_database", pa.string()),
        ("target_schema", pa.string()),
        ("target_profile_name", pa.string()),
        ("threads", pa.int32()),
        ("selected", pa.string()),
        ("yaml_selector", pa.string()),
        ("project_id", pa.string()),
        ("project_name", pa.string()),
        ("env", pa.string()),
        ("env_id", pa.string()),
        ("cause_category", pa.string()),
        ("cause", pa.string()),
        ("pull_request_id", pa.string()),
        ("git_sha", pa.string()),
        ("orchestrator", pa.string()),
        ("dbt_user", pa.string()),
        ("job_url", pa.string()),
        ("job_run_url", pa.string()),
        ("account_id", pa.string()),
        ("target_adapter_specific_fields", pa.string()),
        ("execution_id", pa.string()),
        ("stage", pa.string()),
        ("interval_start", pa.string()),
        ("interval_end", pa.string()),
    ]
)

MODELS_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("alias", pa.string()),
        ("checksum", pa.string()),
        ("materialization", pa.string()),
        ("tags", pa.string()),
        ("meta", pa.string()),
        ("owner", pa.string()),
        ("database_name", pa.string()),
        ("schema_name", pa.string()),
        ("depends_on_macros", pa.string()),
        ("depends_on_nodes", pa.string()),
        ("description", pa.string()),
        ("name", pa.string()),
        ("package_name", pa.string()),
        ("original_path", pa.string()),
        ("path", pa.string()),
        ("patch_path", pa.string()),
        ("generated_at", pa.string()),
        ("metadata_hash", pa.string()),
        ("unique_key", pa.string()),
        ("incremental_strategy", pa.string()),
        ("group_name", pa.string()),
        ("access", pa.string()),
    ]
)

TESTS_SCHEMA = pa.schema(
    [
        ("unique_id", pa.string()),
        ("database_name", pa.string()),
        ("schema_name", pa.string()),
        ("name", pa.string()),
        ("short_name", pa.string()),
        ("alias", pa.string()),
        ("test_column_name", pa.string()),
        ("severity", pa.string()),
        ("warn_if", pa.string()),
        ("error_if", pa.string()),
        ("test_params", pa.string()),
        ("test_namespace", pa.string()),
        ("tags", pa.string()),
        ("model_tags", pa.string()),
        ("model_owners", pa.string()),
        ("meta", pa.string()),
        ("depends_on_macros", pa.string()),
        ("depends_on_nodes", pa.string()),
        ("parent_model_unique_id", pa.string()),
        ("description", pa.string()),
        ("package_name", pa.string()),
        ("type", pa.string()),
        ("original_path", pa.string()),
        ("path", pa.string()),
        ("generated_at", pa.string()),
        ("metadata_hash", pa.string()),
    ]
)

# dbt's statuses of a node that did not complete.
FAILED_STATUSES = ("error", "fail", "runtime error")


def _now() -> tuple[str, datetime]:
    now = datetime.now(UTC)
    return now.isoformat(timespec="microseconds"), now.replace(tzinfo=None)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _timings(result: dict) -> dict:
    found = {}
    for timing in result.get("timing") or []:
        if timing.get("name") in ("compile", "execute"):
            found[f"{timing['name']}_started_at"] = timing.get("started_at")
            found[f"{timing['name']}_completed_at"] = timing.get("completed_at")
    return found


def _rows_affected(result: dict, row_counts: dict) -> int | None:
    rows = (result.get("adapter_response") or {}).get("rows_affected")
    if rows is not None and rows >= 0:
        return rows
    return row_counts.get(result["unique_id"])


def _tags(node: dict) -> list:
    config = node.get("config") or {}
    tags = list(config.get("tags") or []) + list(node.get("tags") or [])
    return sorted(set(tags))


def _meta(node: dict) -> dict:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def relation_name(model: dict) -> str | None:
    """The table a test ran on. A run-scoped relation (dbt_project/macros/run_scoped.sql) is
    named by its model: its per-run name is gone once the run succeeds, and results of one
    model must line up across runs."""
    if _meta(model).get("run_scoped"):
        return model.get("name")
    return model.get("alias") or model.get("name")


def run_result_rows(documents: list[dict]) -> list[dict]:
    """One row per node dbt executed in these invocations, then a `skipped` row for each node
    that did not run because the run failed first."""
    generated_at, created_at = _now()
    rows = []
    for doc in documents:
        nodes = doc.get("nodes") or {}
        for result in doc.get("results") or []:
            node = nodes.get(result["unique_id"], {})
            config = node.get("config") or {}
            adapter = result.get("adapter_response") or {}
            rows.append(
                {
                    "model_execution_id": f"{doc['invocation_id']}.{result['unique_id']}",
                    "unique_id": result["unique_id"],
                    "invocation_id": doc["invocation_id"],
                    "generated_at": generated_at,
                    "created_at": created_at,
                    "name": node.get("name") or result["unique_id"].split(".")[-1],
                    "message": result.get("message"),
                    "status": result.get("status"),
                    "resource_type": node.get("resource_type") or result["unique_id"].split(".")[0],
                    "execution_time": result.get("execution_time"),
                    "rows_affected": _rows_affected(result, doc.get("row_counts") or {}),
                    "full_refresh": bool(doc.get("full_refresh")),
                    "compiled_code": result.get("compiled_code"),
                    "failures": result.get("failures"),
                    "query_id": adapter.get("query_id"),
                    "thread_id": result.get("thread_id"),
                    "materialization": config.get("materialized"),
                    "adapter_response": _json(adapter),
                    "group_name": config.get("group"),
                    **_timings(result),
                }
            )
    return rows + skipped_rows(documents, generated_at, created_at)


def skipped_rows(documents: list[dict], generated_at: str, created_at: datetime) -> list[dict]:
    """Rows for the tests (and the models downstream of a failure) that never ran.

    Attached to the last invocation of the execution (the one that failed), with dbt's status
    `skipped` and a message saying why, as `dbt build` reports the tests of a failed model.
    """
    if not documents:
        return []
    last = documents[-1]
    nodes: dict = {}
    for doc in documents:
        nodes.update(doc.get("nodes") or {})
    ran: dict[str, str] = {}
    for doc in documents:
        for result in doc.get("results") or []:
            ran[result["unique_id"]] = result.get("status")
    broken = {
        uid for uid, status in ran.items() if status in FAILED_STATUSES or status == "skipped"
    }
    stage = last.get("stage")
    rows = []
    for uid, node in sorted(nodes.items()):
        kind = node.get("resource_type")
        if uid in ran or kind not in ("model", "test"):
            continue
        upstream = sorted(_ancestors(uid, nodes) & broken)
        if upstream:
            why = f"skipped: depends on {', '.join(u.split('.')[-1] for u in upstream)}"
            why += f", which did not succeed in stage {stage}"
        elif kind == "test":
            why = f"not run: the run failed in stage {stage} before its tests ran"
        else:
            continue  # a model this execution had no reason to run (e.g. before a redrive)
        rows.append(
            {
                "model_execution_id": f"{last['invocation_id']}.{uid}",
                "unique_id": uid,
                "invocation_id": last["invocation_id"],
                "generated_at": generated_at,
                "created_at": created_at,
                "name": node.get("name"),
                "message": why,
                "status": "skipped",
                "resource_type": kind,
                "execution_time": 0.0,
                "full_refresh": bool(last.get("full_refresh")),
                "materialization": (node.get("config") or {}).get("materialized"),
            }
        )
    return rows


def _ancestors(uid: str, nodes: dict) -> set[str]:
    seen: set[str] = set()
    pending = list((nodes.get(uid, {}).get("depends_on") or {}).get("nodes") or [])
    while pending:
        parent = pending.pop()
        if parent not in seen:
            seen.add(parent)
            pending += (nodes.get(parent, {}).get("depends_on") or {}).get("nodes") or []
    return seen


def invocation_rows(documents: list[dict]) -> list[dict]:
    generated_at, created_at = _now()
    rows = []
    for doc in documents:
        metadata = doc.get("metadata") or {}
        args = doc.get("args") or {}
        interval = doc.get("interval") or {}
        # The target's database and schema, as the models of the project are built there
        # (tests' nodes name their audit schema).
        models = [n for n in (doc.get("nodes") or {}).values() if n.get("resource_type") == "model"]
        first = min(models, key=lambda n: n["unique_id"]) if models else {}
        rows.append(
            {
                "invocation_id": doc["invocation_id"],
                "job_id": doc.get("pipeline"),
                "job_name": doc.get("pipeline"),
                "job_run_id": doc.get("run_id"),
                "run_started_at": metadata.get("invocation_started_at"),
                "run_completed_at": metadata.get("generated_at"),
                "generated_at": generated_at,
                "created_at": created_at,
                "command": args.get("which") or doc.get("command"),
                "dbt_version": metadata.get("dbt_version"),
                "elementary_version": None,  # no elementary package: these rows are ours
                "full_refresh": bool(doc.get("full_refresh")),
                "invocation_vars": _json(args.get("vars")),
                "vars": _json(args.get("vars")),
                "target_name": args.get("target"),
                "target_database": first.get("database"),
                "target_schema": first.get("schema"),
                "target_profile_name": metadata.get("project_name"),
                "threads": args.get("threads"),
                "selected": _json(args.get("select")),
                "yaml_selector": args.get("selector"),
                "project_name": metadata.get("project_name"),
                "orchestrator": "airflow",
                "target_adapter_specific_fields": _json(
                    {"adapter_type": metadata.get("adapter_type")}
                ),
                "execution_id": doc.get("execution_id"),
                "stage": doc.get("stage"),
                "interval_start": str(interval.get("start", ""))[:10] or None,
                "interval_end": str(interval.get("end", ""))[:10] or None,
            }
        )
    return rows


def _hash(row: dict) -> str:
    return hashlib.md5(_json(row).encode(), usedforsecurity=False).hexdigest()


def model_rows(nodes: dict) -> list[dict]:
    generated_at, _ = _now()
    rows = []
    for uid, node in sorted(nodes.items()):
        if node.get("resource_type") != "model":
            continue
        config = node.get("config") or {}
        meta = _meta(node)
        depends_on = node.get("depends_on") or {}
        unique_key = config.get("unique_key")
        row = {
            "unique_id": uid,
            "alias": node.get("alias"),
            "checksum": (node.get("checksum") or {}).get("checksum"),
            "materialization": config.get("materialized"),
            "tags": _json(_tags(node)),
            "meta": _json(meta),
            "owner": _json(meta.get("owner")) if meta.get("owner") is not None else None,
            "database_name": node.get("database"),
            "schema_name": node.get("schema"),
            "depends_on_macros": _json(depends_on.get("macros") or []),
            "depends_on_nodes": _json(depends_on.get("nodes") or []),
            "description": node.get("description"),
            "name": node.get("name"),
            "package_name": node.get("package_name"),
            "original_path": node.get("original_file_path"),
            "path": node.get("path"),
            "patch_path": node.get("patch_path"),
            "unique_key": _json(unique_key) if isinstance(unique_key, list) else unique_key,
            "incremental_strategy": config.get("incremental_strategy"),
            "group_name": config.get("group") or node.get("group"),
            "access": node.get("access"),
        }
        row["metadata_hash"] = _hash(row)
        row["generated_at"] = generated_at
        rows.append(row)
    return rows


def _test_type(node: dict) -> str:
    path = node.get("original_file_path") or ""
    if "tests/generic" in path or "macros/" in path:
        return "generic"
    return "singular" if path.startswith("tests/") or "/tests/" in path else "generic"


def test_rows(nodes: dict) -> list[dict]:
    generated_at, _ = _now()
    rows = []
    for uid, node in sorted(nodes.items()):
        if node.get("resource_type") != "test":
            continue
        config = node.get("config") or {}
        metadata = node.get("test_metadata") or {}
        parents = [
            p for p in (node.get("depends_on") or {}).get("nodes") or [] if p.startswith("model.")
        ]
        parent = node.get("attached_node") or (parents[0] if len(parents) == 1 else None)
        parent_nodes = [nodes.get(p, {}) for p in parents]
        model = nodes.get(parent or "", {})
        owners = sorted({str(_meta(p).get("owner")) for p in parent_nodes if _meta(p).get("owner")})
        row = {
            "unique_id": uid,
            "database_name": model.get("database"),
            "schema_name": model.get("schema"),
            "name": node.get("name"),
            "short_name": metadata.get("name"),
            "alias": node.get("alias"),
            "test_column_name": node.get("column_name"),
            "severity": config.get("severity"),
            "warn_if": config.get("warn_if"),
            "error_if": config.get("error_if"),
            "test_params": _json(metadata.get("kwargs") or {}),
            "test_namespace": metadata.get("namespace"),
            "tags": _json(_tags(node)),
            "model_tags": _json(sorted({t for p in parent_nodes for t in _tags(p)})),
            "model_owners": _json(owners),
            "meta": _json(_meta(node)),
            "depends_on_macros": _json((node.get("depends_on") or {}).get("macros") or []),
            "depends_on_nodes": _json((node.get("depends_on") or {}).get("nodes") or []),
            "parent_model_unique_id": parent,
            "description": node.get("description") or None,
            "package_name": node.get("package_name"),
            "type": _test_type(node),
            "original_path": node.get("original_file_path"),
            "path": node.get("path"),
        }
        row["metadata_hash"] = _hash(row)
        row["generated_at"] = generated_at
        rows.append(row)
    return rows


def tables(documents: list[dict]) -> dict[str, tuple[pa.Table, str | None]]:
    """Every Elementary table's rows for one execution's invocations, with the column whose
    values the write replaces (None: the whole table, the project's current nodes)."""
    nodes: dict = {}
    for doc in documents:
        nodes.update(doc.get("nodes") or {})
    test_results = [
        row
        for doc in documents
        if doc.get("command") in ("test", "build")
        for row in test_result_rows(doc["invocation_id"], doc.get("results") or [], doc["nodes"])
    ]
    return {
        TEST_RESULTS_TABLE: (as_arrow(test_results), "invocation_id"),
        RUN_RESULTS_TABLE: (
            pa.Table.from_pylist(run_result_rows(documents), schema=RUN_RESULTS_SCHEMA),
            "invocation_id",
        ),
        INVOCATIONS_TABLE: (
            pa.Table.from_pylist(invocation_rows(documents), schema=INVOCATIONS_SCHEMA),
            "invocation_id",
        ),
        MODELS_TABLE: (pa.Table.from_pylist(model_rows(nodes), schema=MODELS_SCHEMA), None),
        TESTS_TABLE: (pa.Table.from_pylist(test_rows(nodes), schema=TESTS_SCHEMA), None),
    }
