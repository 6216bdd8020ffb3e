"""API sources and the raw datasets' landing schema, as declared in contracts/sources.json.

One declaration per raw dataset (events, users): its fields and their types. The ingest function
checks every record it fetched against it before a page is written, so the raw zone never gets a
record its readers do not expect from an API; dbt staging derives its parse from the same
declaration (`raw_datasets()`, passed as a dbt var: dbt_project/macros/landing_schema.sql).
A deployment may point INGEST_SOURCES_FILE at a file of the same shape (tests do; so can an
environment that declares its own sources); whoever reads the declaration reads that file, so
an environment that changes `datasets` there sets it for the dbt functions too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

SOURCES_FILE = Path(__file__).resolve().parents[1] / "contracts" / "sources.json"
DATASETS = ("events", "users")
PAGINATORS = ("cursor",)
AUTH_TYPES = ("bearer", "none")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# The field types both readers check: the ingest function here (the JSON type; what the value
# must also satisfy, e.g. a decimal's precision, is staging's to quarantine per line), dbt
# staging in macros/landing_schema.sql.
_JSON_TYPES = {
    "string": (str,),
    "timestamp": (str,),
    "number": (int, float),
    "decimal": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
_FIELD_KEYS = {"type", "required", "null_reason", "precision", "scale", "minimum"}
# Columns dbt staging's parse has besides the fields' own (raw_documents, the classification),
# and the suffixes it gives a field's columns (macros/landing_schema.sql): no field may be named
# like one, or its column would shadow the parse's.
_PARSE_COLUMNS = frozenset(
    "landed_on source_file line_number line decodable line_bytes json_violation document "
    "reason detail disposition occurrence first_read_at".split()
)
_PARSE_SUFFIXES = ("_kind", "_text", "_value")


class SourceConfigError(ValueError):
    """The sources file declares something the function cannot run."""


class SchemaViolation(ValueError):
    """A fetched record does not match its dataset's declared fields."""


@dataclass(frozen=True)
class TimestampProfile:
    """What a timestamp field holds (contracts/sources.json `timestamp`): the pattern dbt
    staging parses times with too, its groups date, hour, minute, second, fraction, offset."""

    pattern: re.Pattern
    profile: str

    def parse(self, value: object) -> datetime | None:
        """The time, as staging reads it (no offset: UTC; fraction digits past the sixth
        dropped); None when the value is not one, an impossible date included."""
        found = self.pattern.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            return None
        day, hour, minute, second, fraction, offset = found.groups()
        try:
            moment = datetime.combine(date.fromisoformat(day), datetime.min.time())
        except ValueError:
            return None
        moment += timedelta(
            hours=int(hour or 0),
            minutes=int(minute or 0),
            seconds=int(second or 0),
            microseconds=int((fraction or "")[:6].ljust(6, "0")),
        )
        if offset is None or offset in ("Z", "z"):
            return moment.replace(tzinfo=UTC)
        digits = offset[1:].replace(":", "")
        shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return moment.replace(tzinfo=timezone(-shift if offset[0] == "-" else shift))


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    precision: int | None = None
    scale: int | None = None

    @property
    def declared(self) -> str:
        if self.type == "decimal":
            return f"decimal({self.precision}, {self.scale})"
        return self.type


@dataclass(frozen=True)
class Source:
    name: str
    enabled: bool
    dataset: str
    fields: tuple[Field, ...]
    timestamp: TimestampProfile
    base_url: str
    endpoint: str
    auth_type: str
    cursor_path: str
    cursor_param: str
    data_selector: str
    cursor_field: str
    start_param: str
    end_param: str
    page_size: int
    page_size_param: str | None
    max_attempts: int
    backoff_factor: float
    max_delay_s: float

    def secret_id(self, secrets_prefix: str) -> str | None:
        """The Secrets Manager secret of its token in one environment (None: no auth)."""
        return None if self.auth_type == "none" else f"{secrets_prefix}{self.name}"

    def check_record(self, record: object, day_start: datetime, day_end: datetime) -> None:
        """Raise SchemaViolation when the record breaks the dataset's declaration or lies outside
        the day it was asked for (an API ignoring the interval would put it in the wrong day)."""
        if not isinstance(record, dict):
            raise SchemaViolation(f"a record is a JSON {type(record).__name__}, not an object")
        for field in self.fields:
            value = record.get(field.name)
            if value is None:
                if field.required:
                    raise SchemaViolation(f"required field {field.name!r} is missing or null")
                continue
            expected = _JSON_TYPES[field.type]
            # bool is an int in Python, never a number in JSON.
            if (isinstance(value, bool) and bool not in expected) or not isinstance(
                value, expected
            ):
                raise SchemaViolation(
                    f"field {field.name!r} is a JSON {_json_type(value)}, declared {field.declared}"
                )
            if field.type == "timestamp" and self.timestamp.parse(value) is None:
                raise SchemaViolation(
                    f"field {field.name!r} is not an ISO-8601 time "
                    f"({self.timestamp.profile}): {value!r}"
                )
        moment = self.timestamp.parse(record.get(self.cursor_field))
        if moment is None:
            raise SchemaViolation(
                f"cursor field {self.cursor_field!r} is missing or not a time: "
                f"{record.get(self.cursor_field)!r}"
            )
        if not day_start <= moment < day_end:
            raise SchemaViolation(
                f"cursor field {self.cursor_field!r} = {record[self.cursor_field]!r} lies outside "
                f"the day asked for [{day_start.isoformat()}, {day_end.isoformat()})"
            )


def _json_type(value: object) -> str:
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        dict: "object",
        list: "array",
    }.get(type(value), type(value).__name__)


def dataset_fields(dataset: str, spec: dict) -> tuple[Field, ...]:
    """A dataset's declared fields, checked: what the ingest function and dbt can both check."""
    fields = []
    for name, field in (spec.get("fields") or {}).items():

        def fail(message: str, name: str = name) -> SourceConfigError:
            return SourceConfigError(f"dataset {dataset!r}, field {name!r}: {message}")

        if not _NAME.match(name):
            raise fail(
                "a field name must be [a-z0-9_], starting with a letter (dbt reads it in SQL)"
            )
        if name in _PARSE_COLUMNS or name.endswith(_PARSE_SUFFIXES):
            raise fail(f"the name is one of staging's own columns or ends in {_PARSE_SUFFIXES}")
        if not isinstance(field, dict) or field.get("type") not in _JSON_TYPES:
            raise fail(
                f"unknown type {(field or {}).get('type')!r}, not one of {tuple(_JSON_TYPES)}"
            )
        unknown = set(field) - _FIELD_KEYS
        if unknown:
            raise fail(f"unknown settings {sorted(unknown)}, not among {sorted(_FIELD_KEYS)}")
        precision, scale = field.get("precision"), field.get("scale")
        if field["type"] == "decimal" and not (
            isinstance(precision, int) and isinstance(scale, int) and 0 <= scale <= precision <= 38
        ):
            raise fail("a decimal needs integer precision (1-38) and scale (0-precision)")
        if "minimum" in field and (
            field["type"] != "decimal" or not isinstance(field["minimum"], int | float)
        ):
            raise fail("minimum is a number, and only a decimal has one")
        reason = field.get("null_reason")
        if reason is not None and not (field.get("required") and _NAME.match(str(reason))):
            raise fail("null_reason is a reason name ([a-z0-9_]) of a required field")
        fields.append(Field(name, field["type"], bool(field.get("required")), precision, scale))
    if not fields:
        raise SourceConfigError(f"dataset {dataset!r} declares no fields")
    return tuple(fields)


def timestamp_profile(document: dict) -> TimestampProfile:
    declared = document.get("timestamp") or {}
    try:
        pattern = re.compile(declared["pattern"])
        profile = str(declared["profile"])
    except (KeyError, TypeError, re.error) as exc:
        raise SourceConfigError(f"timestamp: a pattern and its profile are needed ({exc})") from exc
    if pattern.groups != 6:
        raise SourceConfigError(
            "timestamp.pattern: 6 groups (date, hour, minute, second, fraction, offset), "
            f"not {pattern.groups}"
        )
    return TimestampProfile(pattern, profile)


def _document(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SourceConfigError(f"cannot read the sources file {path}: {exc}") from exc


def raw_timestamp(path: Path | None = None) -> dict:
    """The timestamp profile, checked, as dbt reads it (the var `raw_timestamp`)."""
    document = _document(path or sources_file())
    timestamp_profile(document)
    return {key: document["timestamp"][key] for key in ("pattern", "profile")}


def raw_datasets(path: Path | None = None) -> dict:
    """The raw datasets' declarations, checked, as dbt reads them (the var `raw_datasets`)."""
    path = path or sources_file()
    declared = _document(path).get("datasets") or {}
    missing = [name for name in DATASETS if name not in declared]
    if missing:
        raise SourceConfigError(f"{path}: datasets {missing} are not declared")
    for name, spec in declared.items():
        dataset_fields(name, spec)
    return declared


def sources_file() -> Path:
    return Path(os.environ.get("INGEST_SOURCES_FILE") or SOURCES_FILE)


def load(path: Path | None = None) -> dict[str, Source]:
    """Every declared source, enabled or not, checked."""
    document = _document(path or sources_file())
    datasets = document.get("datasets") or {}
    timestamp = timestamp_profile(document)
    return {
        name: _source(name, spec, datasets, timestamp)
        for name, spec in (document.get("sources") or {}).items()
    }


def enabled(path: Path | None = None) -> dict[str, Source]:
    return {name: source for name, source in load(path).items() if source.enabled}


def _source(name: str, spec: dict, datasets: dict, timestamp: TimestampProfile) -> Source:
    def fail(message: str) -> SourceConfigError:
        return SourceConfigError(f"source {name!r}: {message}")

    if not _NAME.match(name):
        raise fail("the name must be 1-63 characters of [a-z0-9_], starting with a letter")
    dataset = spec.get("dataset")
    if dataset not in DATASETS or dataset not in datasets:
        raise fail(f"dataset must be one of {DATASETS} declared under datasets, got {dataset!r}")
    try:
        fields = dataset_fields(dataset, datasets[dataset])
    except SourceConfigError as exc:
        raise fail(str(exc)) from None
    paginator = spec.get("paginator") or {}
    if paginator.get("type") not in PAGINATORS:
        # Resuming needs the next page's request from the state alone: a cursor sent back as a
        # query parameter is that. Other paginators are not wired yet (see ingestion.py).
        raise fail(f"paginator.type must be one of {PAGINATORS}, got {paginator.get('type')!r}")
    auth = spec.get("auth") or {"type": "none"}
    if auth.get("type") not in AUTH_TYPES:
        raise fail(f"auth.type must be one of {AUTH_TYPES}, got {auth.get('type')!r}")
    if "secret_name" in auth:
        # One declaration serves every environment; a fixed name would be one secret for all
        # of an account's environments (and a second Terraform apply would fail on it).
        raise fail(
            "auth.secret_name is not declared per source: the secret is the environment's "
            "source_secrets_prefix (contracts/naming.json) plus the source's name"
        )
    cursor_field = spec.get("cursor_field")
    if cursor_field not in {field.name for field in fields}:
        raise fail(f"cursor_field {cursor_field!r} is not a declared field of {dataset}")
    interval = spec.get("interval_params") or {}
    retry = spec.get("retry") or {}
    try:
        source = Source(
            name=name,
            enabled=bool(spec.get("enabled")),
            dataset=dataset,
            fields=tuple(fields),
            timestamp=timestamp,
            base_url=str(spec["base_url"]),
            endpoint=str(spec.get("endpoint") or ""),
            auth_type=auth["type"],
            cursor_path=str(paginator.get("cursor_path") or "next_cursor"),
            cursor_param=str(paginator.get("cursor_param") or "cursor"),
            data_selector=str(spec.get("data_selector") or "data"),
            cursor_field=cursor_field,
            start_param=str(interval.get("start") or "since"),
            end_param=str(interval.get("end") or "until"),
            page_size=int(spec.get("page_size") or 500),
            page_size_param=spec.get("page_size_param"),
            max_attempts=int(retry.get("max_attempts", 8)),
            backoff_factor=float(retry.get("backoff_factor", 1.0)),
            max_delay_s=float(retry.get("max_delay_s", 60)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"invalid or missing setting: {exc}") from exc
    if not source.base_url.startswith(("https://", "http://")):
        raise fail(f"base_url must be an http(s) URL, got {source.base_url!r}")
    if source.max_attempts < 1 or source.page_size < 1:
        raise fail("retry.max_attempts and page_size must be at least 1")
    return source
