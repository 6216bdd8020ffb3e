"""Athena's query execution, answered offline: every statement dbt-athena sends is kept and its
effect on the catalog is applied to moto's Glue, so dbt-athena finds the relations it made and
takes the code paths it takes on AWS (a second run merges, a full refresh renames). Every AWS
API call of the run is kept too, with the parameters a policy decides on."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import botocore.exceptions
import sqlglot
from sqlglot import exp

# What a policy (or a reader) needs to know about a call: the resource it names.
KEY_PARAMS = (
    "Bucket", "Key", "Prefix", "DatabaseName", "Name", "TableName", "WorkGroup",
    "QueryExecutionId", "CatalogId", "CopySource",
)  # fmt: skip
# The dbt runtime's accounting queries, by a column only each has.
_ACCOUNTING = re.compile(r"\bas (parsed_lines|in_quarantine)\b")
# Athena's answer to a write that opens more than 100 partitions (dbt-athena then batches).
TOO_MANY_OPEN_PARTITIONS = (
    "TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets"
)


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    params: dict
    # "client": dbt-athena (or the Lambda) called it; "athena": Athena made it while running a
    # statement, with the caller's permissions (Glue for DDL and table lookups, S3 for data and
    # results), so the caller's role needs it all the same.
    via: str = "client"


def key_params(api_params: dict) -> dict:
    """The parameters of a call a policy decides on (names nested in an input lifted)."""
    params = {k: api_params[k] for k in KEY_PARAMS if k in api_params}
    for nested in ("TableInput", "DatabaseInput"):
        if nested in api_params:
            params["Name"] = api_params[nested]["Name"]
    if "Delete" in api_params:
        params["Keys"] = [o["Key"] for o in api_params["Delete"].get("Objects", [])]
    return params


@dataclass
class Statement:
    sql: str
    database: str
    failed: str | None = None  # the StateChangeReason the recorder answered with
    # Athena's StatementType: DDL results are plain text, DML ones have no rows
    statement_type: str = "DDL"


@dataclass
class Recorder:
    """Answers Athena's query API and keeps what it was asked.

    `too_many_partitions` makes the first write into each partitioned table fail the way
    Athena fails one that opens more than 100 partitions; `partition_values` then answers
    dbt-athena's `select distinct <partition keys>` with that many values (its batching reads
    them), and the batches succeed.
    """

    too_many_partitions: bool = False
    partition_values: list[str] = field(default_factory=list)
    # The raw objects of the run (key: lines): the dbt runtime's accounting queries
    # (dbt_runtime.accounting) are answered with every line accepted and in fct_events.
    accounting: dict[str, int] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    _refused: set[str] = field(default_factory=set)
    _executions: dict[str, tuple[Statement, dict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _glue: object = None

    # -- the Athena API ---------------------------------------------------------------------

    def answer(self, operation: str, params: dict) -> dict | None:
        if operation == "StartQueryExecution":
            return self._start(params)
        if operation == "GetQueryExecution":
            statement, _ = self._executions[params["QueryExecutionId"]]
            return {"QueryExecution": _execution(params["QueryExecutionId"], statement)}
        if operation == "GetQueryResults":
            return self._executions[params["QueryExecutionId"]][1]
        if operation == "StopQueryExecution":
            return {}
        return None  # the workgroup and the rest: moto's Athena

    def _start(self, params: dict) -> dict:
        sql = params["QueryString"]
        database = params.get("QueryExecutionContext", {}).get("Database", "default")
        statement = Statement(sql, database)
        with self._lock:
            self.statements.append(statement)
            tree = _parsed(sql)
            if isinstance(tree, exp.Query | exp.Insert | exp.Merge | exp.Delete | exp.Update):
                statement.statement_type = "DML"
            results = {"UpdateCount": 0, "ResultSet": {"Rows": [], "ResultSetMetadata": {}}}
            if self._fails_as_too_many_partitions(tree):
                statement.failed = TOO_MANY_OPEN_PARTITIONS
            elif self.accounting and _ACCOUNTING.search(sql):
                results = self._accounting(_ACCOUNTING.search(sql).group(1))
            elif tree is not None:
                results = self._apply(tree, database) or results
            execution_id = str(uuid.uuid4())
            self._executions[execution_id] = (statement, results)
            self._reads_and_writes(tree, database, params, execution_id)
        return {"QueryExecutionId": execution_id}

    def _fails_as_too_many_partitions(self, tree: exp.Expression | None) -> bool:
        """A partitioned CTAS or MERGE (not a temporary table's: those are written
        unpartitioned) fails the first time it writes its table."""
        if not self.too_many_partitions or tree is None:
            return False
        properties = ctas_properties(tree) if isinstance(tree, exp.Create) else {}
        writes_partitions = (
            isinstance(tree, exp.Create)
            and tree.kind == "TABLE"
            and properties.get("partitioning", properties.get("partitioned_by"))
        ) or (isinstance(tree, exp.Merge) and self._is_partitioned(tree.this))
        if writes_partitions and tree.this.name not in self._refused:
            self._refused.add(tree.this.name)
            return True
        return False

    def _reads_and_writes(self, tree, database: str, params: dict, execution_id: str) -> None:
        """What Athena does in S3 and Glue for a statement, beyond the DDL (_apply): it writes
        the result, looks up every table named, reads the data of those it knows, and writes
        into the location of a table it changes."""
        output = params.get("ResultConfiguration", {}).get("OutputLocation", "")
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        self._engine("s3", "PutObject", {"Bucket": bucket, "Key": f"{prefix}{execution_id}.csv"})
        if tree is None:
            return
        changed = tree.this if isinstance(tree, exp.Insert | exp.Merge | exp.Delete) else None
        if isinstance(changed, exp.Schema):  # insert into t (columns)
            changed = changed.this
        for table in tree.find_all(exp.Table):
            if not table.db:
                continue  # a CTE's name
            self._engine("glue", "GetTable", {"DatabaseName": table.db, "Name": table.name})
            found = self._get_table(table.db, table.name)
            location = (found or {}).get("StorageDescriptor", {}).get("Location")
            if location:
                data_bucket, _, key = location.removeprefix("s3://").rstrip("/").partition("/")
                operation = "PutObject" if table is changed else "GetObject"
                data = {"Bucket": data_bucket, "Key": f"{key}/data/part-00000.parquet"}
                self._engine("s3", operation, data)
                if table is changed:
                    self._engine(
                        "glue", "UpdateTable", {"DatabaseName": table.db, "Name": table.name}
                    )

    def _engine(self, service: str, operation: str, params: dict) -> None:
        self.calls.append(ApiCall(service, operation, params, via="athena"))

    def _is_partitioned(self, table: exp.Table) -> bool:
        found = self._get_table(table.db, table.name)
        return bool(found and found["Parameters"].get("harness_partitioning"))

    # -- the catalog -------------------------------------------------------------------------

    def _apply(self, tree: exp.Expression, database: str) -> dict | None:
        """Reflect DDL in Glue, and answer a query with its columns and plausible rows."""
        if isinstance(tree, exp.Create) and tree.kind == "TABLE" and tree.expression:
            self._create_table(tree, database)
        elif isinstance(tree, exp.Create) and tree.kind == "VIEW":
            self._create_view(tree, database)
        elif isinstance(tree, exp.Create) and tree.kind in ("SCHEMA", "DATABASE"):
            self._create_database(tree.this.name or tree.this.db)
        elif isinstance(tree, exp.Drop) and tree.kind in ("TABLE", "VIEW"):
            for table in tree.expressions or [tree.this]:
                self._delete_table(table.db or database, table.name)
        elif isinstance(tree, exp.Alter) and any(
            isinstance(a, exp.AlterRename) for a in tree.actions
        ):
            rename = next(a for a in tree.actions if isinstance(a, exp.AlterRename))
            self._rename(tree.this, rename.this, database)
        elif isinstance(tree, exp.Query):
            return self._rows_of(tree)
        return None

    def _create_table(self, tree: exp.Create, database: str) -> None:
        properties = ctas_properties(tree)
        partitions = properties.get("partitioning") or properties.get("partitioned_by") or ""
        iceberg = properties.get("table_type", "hive").lower() == "iceberg"
        location = properties.get("location") or properties.get("external_location") or ""
        parameters = {"harness_partitioning": partitions}
        if iceberg:
            parameters["table_type"] = "ICEBERG"
        if location:
            data_bucket, _, key = location.removeprefix("s3://").rstrip("/").partition("/")
            data = {"Bucket": data_bucket, "Key": f"{key}/data/part-00000.parquet"}
            self._engine("s3", "PutObject", data)
        self._put_table(
            tree.this.db or database,
            {
                "Name": tree.this.name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": parameters,
                "StorageDescriptor": {"Columns": _columns(tree.expression), "Location": location},
            },
        )

    def _create_view(self, tree: exp.Create, database: str) -> None:
        self._put_table(
            tree.this.db or database,
            {
                "Name": tree.this.name,
                "TableType": "VIRTUAL_VIEW",
                "Parameters": {"presto_view": "true"},
                "StorageDescriptor": {"Columns": _columns(tree.expression)},
                "ViewOriginalText": tree.expression.sql(dialect="athena")[:1000],
            },
        )

    def _rename(self, source: exp.Table, target: exp.Table, database: str) -> None:
        found = self._get_table(source.db or database, source.name)
        if found is None:
            return
        keep = ("Name", "TableType", "Parameters", "StorageDescriptor", "ViewOriginalText")
        self._put_table(
            target.db or database,
            {**{k: v for k, v in found.items() if k in keep}, "Name": target.name},
        )
        self._delete_table(source.db or database, source.name)

    def _rows_of(self, query: exp.Query) -> dict:
        names = [n or f"_col{i}" for i, n in enumerate(query.named_selects)]
        if {"failures", "should_warn", "should_error"} <= set(names):
            # a dbt test's summary row: no failures
            values = {"failures": ("bigint", "0"), "should_warn": ("boolean", "false")}
            values["should_error"] = ("boolean", "false")
            columns = [(n, values.get(n, ("varchar", ""))[0]) for n in names]
            return _results(columns, [[values.get(n, ("", ""))[1] for n in names]])
        if self.partition_values and isinstance(query, exp.Select) and query.args.get("distinct"):
            return _results([(names[0], "date")], [[v] for v in self.partition_values])
        return _results([(n, "varchar") for n in names], [])

    def _accounting(self, query: str) -> dict:
        days: dict[tuple[str, str], int] = {}
        for key, lines in self.accounting.items():
            table, day = key.split("/")[0], key.split("/")[1].removeprefix("dt=")
            days[(table, day)] = days.get((table, day), 0) + lines
        if query == "parsed_lines":  # the parse: lines per day, disposition and reason
            names = ["raw_table", "landed_on", "disposition", "reason", "parsed_lines"]
            types = ["varchar"] * 4 + ["bigint"]
            rows = [[t, d, "accepted", "", str(n)] for (t, d), n in sorted(days.items())]
        else:  # the marts: raw_table, landed_on, in fct_events, redelivered, in quarantine
            names = ["raw_table", "landed_on", "_col2", "_col3", "_col4"]
            types = ["varchar"] * 2 + ["bigint"] * 3
            rows = [[t, d, str(n), "0", "0"] for (t, d), n in sorted(days.items()) if t == "events"]
        return _results(list(zip(names, types, strict=True)), rows)

    def bind(self, glue_call: Callable[[str, dict], dict]) -> None:
        self._glue = glue_call

    def _get_table(self, database: str, name: str) -> dict | None:
        try:
            return self._glue("GetTable", {"DatabaseName": database, "Name": name})["Table"]
        except botocore.exceptions.ClientError:
            return None

    def _put_table(self, database: str, table: dict) -> None:
        self._create_database(database)
        operation = (
            "CreateTable" if self._get_table(database, table["Name"]) is None else "UpdateTable"
        )
        self._glue(operation, {"DatabaseName": database, "TableInput": table})
        self._engine("glue", operation, {"DatabaseName": database, "Name": table["Name"]})

    def _delete_table(self, database: str, name: str) -> None:
        if self._get_table(database, name) is not None:
            self._glue("DeleteTable", {"DatabaseName": database, "Name": name})
            self._engine("glue", "DeleteTable", {"DatabaseName": database, "Name": name})

    def _create_database(self, name: str) -> None:
        try:
            self._glue("CreateDatabase", {"DatabaseInput": {"Name": name}})
        except botocore.exceptions.ClientError:
            pass  # it exists


def _parsed(sql: str) -> exp.Expression | None:
    """The statement's tree, or None when sqlglot cannot read it (the checks report that)."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="athena") if t is not None]
    except sqlglot.errors.SqlglotError:
        return None
    return trees[0] if len(trees) == 1 else None


def ctas_properties(tree: exp.Create) -> dict[str, str]:
    """A CTAS's WITH (...) properties, values as written (strings unquoted, arrays as SQL)."""
    found = {}
    named = {exp.LocationProperty: "location", exp.FileFormatProperty: "format"}
    for prop in (tree.args.get("properties") or exp.Properties()).expressions:
        if type(prop) is exp.Property:  # its subclasses (location, format) keep `this`
            name, value = prop.name.lower(), prop.args.get("value")
        else:
            name, value = named.get(type(prop), prop.key), prop.this
        if isinstance(value, exp.Expression):
            found[name] = value.name if isinstance(value, exp.Literal) else value.sql("athena")
    return found


def _columns(query: exp.Expression) -> list[dict]:
    # Types are not inferred: both sides of a merge get the same, so on_schema_change sees
    # no change, as on AWS when the model's columns did not change.
    names = query.named_selects if isinstance(query, exp.Query) else []
    return [{"Name": n.lower(), "Type": "string"} for n in names if n and n != "*"]


def _results(columns: list[tuple[str, str]], rows: list[list[str]]) -> dict:
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    return {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)],
            "ResultSetMetadata": {
                "ColumnInfo": [{"Name": n, "Type": t, "Nullable": "UNKNOWN"} for n, t in columns]
            },
        },
    }


def _execution(execution_id: str, statement: Statement) -> dict:
    status = {"State": "SUCCEEDED"}
    if statement.failed:
        status = {
            "State": "FAILED",
            "StateChangeReason": statement.failed,
            "AthenaError": {"ErrorCategory": 2, "ErrorType": 1100, "Retryable": False},
        }
    return {
        "QueryExecutionId": execution_id,
        "Query": statement.sql,
        "StatementType": statement.statement_type,
        "Status": status,
        "Statistics": {"DataScannedInBytes": len(statement.sql)},
    }
