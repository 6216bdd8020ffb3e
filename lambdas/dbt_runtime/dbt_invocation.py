"""Run dbt through its programmatic runner with the target and paths a Lambda needs."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from dbt_runtime import athena_scans
from dbt_runtime.lambda_compat import ensure_dbt_can_lock
from dbt_runtime.settings import Settings


def utc_now() -> str:
    """A stage's start/end stamp (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class InvalidEvent(ValueError):
    """The invocation's event is malformed: nothing was run."""


@dataclass(frozen=True)
class Interval:
    start: date
    end: date  # exclusive

    @classmethod
    def from_event(cls, event: dict) -> Interval:
        raw = event.get("interval")
        if not isinstance(raw, dict) or "start" not in raw or "end" not in raw:
            raise InvalidEvent(
                'event.interval must be {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}'
            )
        try:
            start = date.fromisoformat(str(raw["start"])[:10])
            end = date.fromisoformat(str(raw["end"])[:10])
        except ValueError as exc:
            raise InvalidEvent(f"event.interval has an invalid date: {exc}") from exc
        if end <= start:
            raise InvalidEvent(f"event.interval end ({end}) must be after start ({start})")
        return cls(start, end)

    def days(self) -> list[str]:
        """The landing days of the interval (YYYY-MM-DD), end exclusive."""
        return [
            date.fromordinal(day).isoformat()
            for day in range(self.start.toordinal(), self.end.toordinal())
        ]


_RUN_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


def run_key(event: dict) -> str:
    """The key of the run's own relations (dbt_project/macros/run_scoped.sql): set by the run
    plan from the DAG run id; a redrive carries the failed run's."""
    key = event.get("run_key")
    if not isinstance(key, str) or not _RUN_KEY.match(key):
        raise InvalidEvent(f"event.run_key must be 1-40 characters of [a-z0-9_], got {key!r}")
    return key


@dataclass
class DbtOutcome:
    command: str
    success: bool
    invocation_id: str
    results: list[dict] = field(default_factory=list)
    manifest_nodes: dict = field(default_factory=dict)
    exception: str | None = None
    elapsed_s: float = 0.0
    full_refresh: bool = False
    # run_results' metadata and args, and the manifest's project name: what Elementary's
    # dbt_invocations row is made of.
    metadata: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)
    # Athena: the bytes every statement of each node scanned (dbt_runtime.athena_scans); None
    # on the local target, which scans no bytes it could report.
    bytes_scanned: dict[str, int] | None = None


# What of the project dbt never reads: left out of the Lambda's writable copy and of the
# manifest cache's key.
_NOT_PROJECT = ("target", "logs", "dbt_packages", ".user.yml")

# Vars that only matter while a node is compiled or run, never while the project is parsed: no
# config, alias, relation, ref/source or test argument reads them (tests/integration/
# test_manifest_cache.py parses with other values of each and compares the manifests). They
# differ between one run's invocations (the staging parse adds unreadable_objects and
# raw_lines; cleanup passes the run options' defaults), so they stay out of the manifest
# cache's key. Every other var is part of it: the run key above all (run-scoped relation
# names carry it), and lookback_days, which a model's incremental_predicates config reads at
# parse time.
RUNTIME_VARS = frozenset({"unreadable_objects", "raw_lines", "max_bad_row_share"})

_ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([^'"]+)['"]""")


def prepare_project(settings: Settings) -> Path:
    """Copy the project under /tmp: the code directory of a Lambda is read-only."""
    work = settings.tmp_dir / "dbt_project"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(settings.dbt_project_dir, work, ignore=shutil.ignore_patterns(*_NOT_PROJECT))
    return work


def manifest_key(settings: Settings, dbt_vars: dict) -> str:
    """What a parsed manifest depends on: the target, every project file, the parse-relevant
    vars and the environment variables the project reads (dbt renders env_var() at parse)."""
    # The target, and where the writable copy lives (the manifest records its paths).
    digest = hashlib.sha256(f"{settings.target}\0{settings.tmp_dir}".encode())
    env_names: set[str] = set()
    root = settings.dbt_project_dir
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part in _NOT_PROJECT for part in relative.parts):
            continue
        content = path.read_bytes()
        digest.update(f"\0{relative.as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
        env_names.update(_ENV_VAR_CALL.findall(content.decode("utf-8", "replace")))
    parse_vars = {k: v for k, v in dbt_vars.items() if k not in RUNTIME_VARS}
    environment = {name: os.environ.get(name) for name in sorted(env_names)}
    digest.update(json.dumps([parse_vars, environment], sort_keys=True, default=str).encode())
    return digest.hexdigest()


# The manifest of the last parse in this execution environment and its key: the invocations of
# one run (staging, its accounting query, marts, theirs, cleanup) share their parse-relevant
# vars, so only the first parses the project. One entry: a new run's key replaces it.
_parsed: tuple[str, object] | None = None


def forget_manifest() -> None:
    global _parsed
    _parsed = None


def _manifest(key: str, args: list[str]):
    """The parsed manifest for this key: the cached one, else a fresh `dbt parse` (None when
    the parse fails: the command then parses itself and reports the error as usual)."""
    global _parsed
    if _parsed is not None and _parsed[0] == key:
        return _parsed[1]
    from dbt.cli.main import dbtRunner

    _parsed = None
    parsed = dbtRunner().invoke(["parse", "--no-write-json", *args])
    if not parsed.success or parsed.result is None:
        return None
    _parsed = (key, parsed.result)
    return parsed.result


def _invoke(settings: Settings, command: list[str], dbt_vars: dict):
    """dbt's programmatic runner on a writable copy of the project, with the run's vars, on the
    environment's parsed manifest when its key still holds."""
    from dbt.cli.main import dbtRunner

    ensure_dbt_can_lock()
    project = prepare_project(settings)
    args = [
        "--project-dir", str(project),
        "--profiles-dir", str(project),
        "--target", settings.target,
        "--target-path", str(settings.tmp_dir / "dbt_target"),
        "--log-path", str(settings.tmp_dir / "dbt_logs"),
        "--vars", json.dumps(dbt_vars),
    ]  # fmt: skip
    manifest = _manifest(manifest_key(settings, dbt_vars), args)
    result = dbtRunner(manifest=manifest).invoke([*command, *args])
    if result.exception is not None:
        # dbt stopped part-way: whatever it did to the manifest is not worth keeping.
        forget_manifest()
    return result


def run(
    settings: Settings, command: list[str], dbt_vars: dict, full_refresh: bool = False
) -> DbtOutcome:
    target_path = settings.tmp_dir / "dbt_target"
    run_results_file = target_path / "run_results.json"
    run_results_file.unlink(missing_ok=True)
    counting = settings.target == "athena"
    if counting:
        athena_scans.install()
        athena_scans.take()  # nothing of an earlier invocation of this environment
    started = time.monotonic()
    result = _invoke(settings, [*command, *(["--full-refresh"] if full_refresh else [])], dbt_vars)
    elapsed = time.monotonic() - started
    scanned = athena_scans.take() if counting else None
    exception = repr(result.exception) if result.exception else None
    if not run_results_file.exists():
        return DbtOutcome(
            command[0],
            False,
            "",
            exception=exception or "dbt wrote no run results",
            elapsed_s=elapsed,
            full_refresh=full_refresh,
        )
    run_results = json.loads(run_results_file.read_text())
    manifest_file = target_path / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    metadata = dict(run_results.get("metadata") or {})
    metadata["project_name"] = (manifest.get("metadata") or {}).get("project_name")
    metadata["adapter_type"] = (manifest.get("metadata") or {}).get("adapter_type")
    return DbtOutcome(
        command=command[0],
        success=bool(result.success),
        invocation_id=run_results["metadata"]["invocation_id"],
        results=run_results["results"],
        manifest_nodes=manifest.get("nodes") or {},
        exception=exception,
        elapsed_s=elapsed,
        full_refresh=full_refresh,
        metadata=metadata,
        args=run_results.get("args") or {},
        bytes_scanned=scanned,
    )


def release_local_database(settings: Settings) -> None:
    """Let go of the local target's DuckDB file at the end of an invocation, and of the memory
    the invocation freed (release_memory).

    Both functions open the same DuckDB file locally and DuckDB allows one process at a time;
    dbt-duckdb keeps its handle for the life of the process, which in a warm execution
    environment outlives the invocation. (Athena has no database to release.)
    """
    if settings.target == "local":
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    release_memory()


def release_memory() -> None:
    """Give the memory an invocation freed back to the system.

    A warm execution environment otherwise keeps it in its allocators' caches (pyarrow's pool,
    glibc's arenas), so every later invocation's peak starts from the previous one's: the
    marts of a 1M-event day left 700 MB resident for the light cleanup invocation after them.
    """
    gc.collect()
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    # glibc only (the Lambda runtime's and this machine's); elsewhere there is nothing to trim.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def project_vars() -> dict:
    """The vars the project has no value of its own for and that no run changes the meaning of:
    what a `dbt parse` needs besides a run's interval (a run overrides the run options).

    The landing schema (contracts/sources.json `datasets` and `timestamp`): staging derives its
    parse from it (macros/landing_schema.sql, raw_json.sql), so dbt holds no copy of its own.
    The run options dbt reads, at the run request's defaults (dbt_project.yml has none).
    """
    from dbt_runtime import run_request, sources

    return {
        "raw_datasets": sources.raw_datasets(),
        "raw_timestamp": sources.raw_timestamp(),
        "lookback_days": run_request.option({}, "lookback_days"),
        "max_bad_row_share": run_request.option({}, "max_bad_row_share"),
    }


def dbt_vars(
    settings: Settings,
    event: dict,
    interval: Interval,
    lookback_days: int | None = None,
    max_bad_row_share: float | None = None,
) -> dict:
    values = {
        "interval_start": interval.start.isoformat(),
        "interval_end": interval.end.isoformat(),
        "raw_bucket": settings.raw_bucket,
        "run_id": str(event.get("run_id", "")),
        "run_key": run_key(event),
    }
    if settings.target == "local":
        # profiles.yml opens this run's own DuckDB file (Settings.for_run).
        values["duckdb_path"] = settings.duckdb_path
    values.update(project_vars())
    # The run options dbt reads: the event's values, validated, where the caller has them.
    if lookback_days is not None:
        values["lookback_days"] = lookback_days
    if max_bad_row_share is not None:
        values["max_bad_row_share"] = max_bad_row_share
    return values


def operation(settings: Settings, macro: str, dbt_vars: dict) -> None:
    """`dbt run-operation MACRO` with the run's vars; raises RuntimeError when it fails."""
    result = _invoke(settings, ["run-operation", macro], dbt_vars)
    if not result.success:
        raise RuntimeError(f"dbt run-operation {macro} failed: {result.exception!r}")


def show(settings: Settings, sql: str, dbt_vars: dict, limit: int = 1000) -> list[tuple]:
    """The rows of `dbt show --inline SQL` (refs resolve to the run's relations)."""
    result = _invoke(settings, ["show", "--inline", sql, "--limit", str(limit)], dbt_vars)
    if not result.success or not result.result or not result.result.results:
        raise RuntimeError(f"dbt show failed: {result.exception!r}")
    return [tuple(row) for row in result.result.results[0].agate_table.rows]
