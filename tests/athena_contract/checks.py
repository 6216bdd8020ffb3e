"""Athena's rules, checked on recorded statements. Each check returns its violations (empty when
the statements keep the rule), so a test can show them all and a defect test can expect one."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import sqlglot
from sqlglot import exp

# Athena's maximum query string length (bytes).
MAX_QUERY_BYTES = 262_144
ALLOWLIST_FILE = Path(__file__).with_name("athena_v3_functions.txt")
# A string literal, quoted identifier or comment: text in which a `name(` is not a call.
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_CALL = re.compile(r"(?<![\w.\"])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
# The suffixes of the relations dbt-athena builds for a model.
_MODEL_SUFFIX = re.compile(r"__(ha|bkp|dbt_tmp\w*)$")
# Words sqlglot also knows as functions that are syntax when followed by a parenthesis: SQL's
# (MERGE's `insert (columns)`) and types' (`timestamp(6)`, `decimal(18, 2)`).
_SYNTAX = {
    "and", "or", "not", "in", "exists", "values", "over", "filter", "within", "insert",
    "timestamp", "time", "decimal", "varchar", "char",
}  # fmt: skip


def athena_functions() -> set[str]:
    lines = ALLOWLIST_FILE.read_text().splitlines()
    return {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}


def parsed(sql: str) -> list[exp.Expression]:
    return [tree for tree in sqlglot.parse(sql, read="athena") if tree is not None]


def unparsable(statements: Iterable[str]) -> list[str]:
    problems = []
    for sql in statements:
        try:
            parsed(sql)
        except sqlglot.errors.SqlglotError as error:
            problems.append(f"{_head(sql)}: {str(error)[:300]}")
    return problems


def called_functions(sql: str) -> set[str]:
    """The names of the functions a statement calls, as it writes them.

    Not the names sqlglot's tree renders: it reads many dialects' spellings into one typed
    node (DuckDB's `levenshtein` and Trino's `levenshtein_distance` are both exp.Levenshtein,
    `lower(to_hex(x))` is one exp.LowerHex) and would render Athena's name whatever the SQL
    said. So a call is a `name(` in the statement's code whose name is a function to sqlglot
    (in some dialect), or that sqlglot parsed as an unknown function (exp.Anonymous)."""
    code = _NOT_CODE.sub(" ", sql)
    anonymous = {node.name.lower() for tree in parsed(sql) for node in tree.find_all(exp.Anonymous)}
    written = {m.group(1).lower() for m in _CALL.finditer(code)}
    return anonymous | (written & _known_functions())


@functools.cache
def _known_functions() -> frozenset[str]:
    from sqlglot.dialects.dialect import Dialect

    names = set()
    for dialect in Dialect.classes.values():
        names |= {name.lower() for name in dialect.parser_class.FUNCTIONS}
    return frozenset(names - _SYNTAX)


def unknown_functions(statements: Iterable[str], allowed: set[str]) -> list[str]:
    problems = []
    for sql in statements:
        unknown = sorted(called_functions(sql) - allowed)
        if unknown:
            problems.append(f"{_head(sql)}: {', '.join(unknown)}")
    return problems


def oversized(statements: Iterable[str]) -> list[str]:
    return [
        f"{_head(sql)}: {len(sql.encode())} bytes"
        for sql in statements
        if len(sql.encode()) >= MAX_QUERY_BYTES
    ]


def hive_tables(statements: Iterable[str], database: str) -> list[str]:
    """Every CTAS into the curated database writes an Iceberg table (dbt-athena's default
    table_type is Hive: a model that loses the project's config would silently write one)."""
    problems = []
    for sql in statements:
        for tree in parsed(sql):
            if not (isinstance(tree, exp.Create) and tree.kind == "TABLE"):
                continue
            if (tree.this.db or database) != database:
                continue
            properties = {
                p.name.lower(): p.args.get("value")
                for p in (tree.args.get("properties") or exp.Properties()).expressions
                if type(p) is exp.Property
            }
            table_type = properties.get("table_type")
            if table_type is None or table_type.name.lower() != "iceberg":
                problems.append(f"{tree.this.name}: table_type={table_type and table_type.name}")
    return problems


def misplaced_tables(statements: Iterable[str], bucket: str) -> list[str]:
    """Each table a CTAS creates keeps its data in a folder of its own under its database's
    folder: s3://<bucket>/<database>/<table>/<unique>, dbt-athena's `schema_table_unique`
    naming under the profile's s3_data_dir (the bucket's root). A database's folder is what
    its writer's role may write (terraform/modules/workflow: WriteOwnPrefix). The tables
    dbt-athena builds for a model (`<model>__ha`, `<model>__dbt_tmp`...) may write under the
    model's name instead of their own."""
    from tests.athena_contract.recorder import ctas_properties

    problems = []
    for sql in statements:
        for tree in parsed(sql):
            if not (isinstance(tree, exp.Create) and tree.kind == "TABLE" and tree.expression):
                continue
            found = ctas_properties(tree)
            location = found.get("location") or found.get("external_location") or ""
            names = {tree.this.name, _MODEL_SUFFIX.sub("", tree.this.name)}
            folders = [f"s3://{bucket}/{tree.this.db}/{name}/" for name in names]
            uniques = [location.removeprefix(f) for f in folders if location.startswith(f)]
            if not any(u and "/" not in u.rstrip("/") for u in uniques):
                problems.append(f"{tree.this.db}.{tree.this.name}: {location or 'no location'}")
    return problems


def merge_window(dbt_vars: dict, project_vars: dict) -> tuple[str, str]:
    """The run's merge window (dbt_project/macros/merge_window.sql), computed independently."""
    lookback = int(dbt_vars["lookback_days"])  # a run option: the runtime always passes it
    future = int(dbt_vars.get("max_future_days", project_vars["max_future_days"]))
    start = date.fromisoformat(dbt_vars["interval_start"]) - timedelta(days=lookback)
    end = date.fromisoformat(dbt_vars["interval_end"]) + timedelta(days=future)
    return start.isoformat(), end.isoformat()


def unbounded_merges(statements: Iterable[str], configs: dict[str, dict], window) -> list[str]:
    """Each MERGE into a model that names its merge window (`merge_window_column`) bounds the
    target side to the window in its ON clause, unless the model deliberately matches across
    the whole table (`unique_across_table`): then the rows it brings (the source) are
    bounded instead, by the window or by the lookback rule relative to each row's landing."""
    start, end = window
    problems = []
    statements = list(statements)
    sources = _created_tables(statements)
    for sql in statements:
        for tree in parsed(sql):
            if not isinstance(tree, exp.Merge):
                continue
            config = configs.get(tree.this.name, {})
            column = config.get("merge_window_column")
            if not column:
                continue
            if config.get("unique_across_table"):
                # the source: a table the run created, or (a batch) a select from one
                using = tree.args["using"]
                read = [using, *(t for t in using.find_all(exp.Table) if t.name in sources)]
                if not any(_bounds(sources.get(r.name, r), column, start, end) for r in read):
                    problems.append(f"{tree.this.name}: the merged rows are not bounded")
                continue
            missing = [
                p
                for p in (f"target.{column} >= date '{start}'", f"target.{column} < date '{end}'")
                if not _contains(tree.args["on"], p)
            ]
            if missing:
                problems.append(f"{tree.this.name}: the ON clause lacks {' and '.join(missing)}")
    return problems


def colliding_relations(first: set[str], second: set[str], shared: set[str]) -> list[str]:
    """Relations two runs (different run keys) both create, other than the models' own."""
    return sorted((first & second) - shared)


def created_relations(statements: Iterable[str]) -> set[str]:
    names = set()
    for sql in statements:
        for tree in parsed(sql):
            if isinstance(tree, exp.Create) and tree.kind in ("TABLE", "VIEW"):
                names.add(tree.this.name)
            elif isinstance(tree, exp.Alter):
                names |= {a.this.name for a in tree.actions if isinstance(a, exp.AlterRename)}
    return names


def _created_tables(statements: list[str]) -> dict[str, exp.Expression]:
    found = {}
    for sql in statements:
        for tree in parsed(sql):
            if isinstance(tree, exp.Create) and tree.kind == "TABLE" and tree.expression:
                found[tree.this.name] = tree.expression
    return found


def _contains(tree: exp.Expression, predicate: str) -> bool:
    wanted = sqlglot.parse_one(predicate, read="athena")
    text = wanted.sql("athena").lower()
    return any(node.sql("athena").lower() == text for node in tree.find_all(type(wanted)))


def _bounds(source: exp.Expression, column: str, start: str, end: str) -> bool:
    """The source filters `column` to the window, or by the lookback rule (BETWEEN the
    landing day minus lookback_days and plus max_future_days)."""
    if _contains(source, f"{column} >= date '{start}'") and _contains(
        source, f"{column} < date '{end}'"
    ):
        return True
    return any(
        node.this.name == column and isinstance(node.args.get("low"), exp.DateAdd)
        for node in source.find_all(exp.Between)
    )


def _head(sql: str) -> str:
    body = " ".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return " ".join(body.split())[:120]
