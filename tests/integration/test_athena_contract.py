"""The Athena contract, checked offline: dbt-athena's real materializations run the project's
athena target against moto, Athena's query execution answered by a recorder
(tests/athena_contract), and what they send is checked against Athena's rules. Each check is
also shown to fail on a copy of the project with the defect it exists for."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml
from sqlglot import exp

from tests.athena_contract import checks, gateway, iam, s3_calls
from tests.athena_contract.recorder import ApiCall
from tests.athena_contract.runs import (
    CURATED,
    NAMES,
    REGION,
    WORKGROUP,
    account,
    contract_runs,
    dbt_vars,
    stage_args,
)
from tests.dbt_projects import REPO_PROJECT, project_copy, with_final_select_prefixed
from tests.image_env import image_python

pytestmark = [pytest.mark.integration, pytest.mark.cost(3)]
PROJECT_VARS = yaml.safe_load((REPO_PROJECT / "dbt_project.yml").read_text())["vars"]
POLICY_VARS = s3_calls.POLICY_VARS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("athena_contract")
    return contract_runs(project_copy(tmp), tmp / "work")


def all_sql(runs) -> list[str]:
    return [s.sql for run in runs.values() for s in run.statements()]


def model_configs(invocation) -> dict[str, dict]:
    nodes = invocation.manifest.get("nodes", {}).values()
    return {n["alias"]: n["config"] for n in nodes if n["resource_type"] == "model"}


def merge_problems(invocations) -> list[str]:
    problems = []
    for invocation in invocations:
        window = checks.merge_window(invocation.dbt_vars, PROJECT_VARS)
        sql = [s.sql for s in invocation.recorder.statements]
        problems += checks.unbounded_merges(sql, model_configs(invocation), window)
    return problems


def test_each_run_takes_the_code_path_it_takes_on_aws(runs):
    for name, run in runs.items():
        failed = [(i.args, i.answer) for i in run.invocations if not i.success]
        assert not failed, (name, failed)

    def statements(name, pattern):
        return [s for s in runs[name].statements() if re.search(pattern, s.sql, re.I | re.M)]

    def merged(name):
        trees = (t for s in runs[name].statements() for t in checks.parsed(s.sql))
        return {t.this.name for t in trees if isinstance(t, exp.Merge)}

    marts = {"fct_events", "dim_users", "daily_metrics", "quarantined_events"}
    assert merged("daily") == merged("redrive") == merged("backfill") == marts
    assert merged("first") == merged("full_refresh") == set()
    tests = runs["tests"].invocations[0].recorder.statements
    assert [s for s in tests if not re.search(r"count\(\*\) as failures", s.sql)] == []
    # the backfill: Athena refused the merge of 123 partitions; dbt-athena then read them and
    # merged in batches of at most 100
    refused = [s for s in runs["backfill"].statements() if s.failed]
    assert refused and all(re.search(r"^merge into", s.sql, re.M) for s in refused)
    assert statements("backfill", r"^select distinct landed_on from")
    batches = statements("backfill", r"using \(select .* where .*landed_on")
    assert len(batches) == 2
    assert all(s.sql.count("landed_on=DATE'") <= 100 for s in batches)


def test_every_statement_parses_as_athena_sql(runs):
    assert checks.unparsable(all_sql(runs)) == []


def test_every_statement_calls_only_functions_athena_v3_has(runs):
    assert checks.unknown_functions(all_sql(runs), checks.athena_functions()) == []


def test_every_statement_fits_athenas_query_limit(runs):
    assert checks.oversized(all_sql(runs)) == []
    assert max(len(sql.encode()) for sql in all_sql(runs)) < checks.MAX_QUERY_BYTES // 4


def test_every_table_written_to_the_curated_database_is_iceberg(runs):
    assert checks.hive_tables(all_sql(runs), CURATED) == []


def test_every_merge_carries_its_merge_window(runs):
    invocations = [i for run in runs.values() for i in run.invocations]
    assert merge_problems(invocations) == []


def denied_calls(runs, remove: str | None = None, on: str | None = None) -> dict[str, list[str]]:
    """Per run, the recorded calls the role of the function that made them (its policy as
    Terraform declares it) denies."""
    denied = {}
    for name, run in runs.items():
        problems = []
        for invocation in run.invocations:
            statements = iam.policy(invocation.function, POLICY_VARS, REGION)
            if remove:
                statements = iam.without(statements, remove, on)
            calls = invocation.recorder.calls
            problems += iam.denied(statements, calls, REGION, WORKGROUP)
        denied[name] = sorted(set(problems))
    return denied


def test_every_aws_call_of_the_runs_is_allowed_by_the_functions_role(runs):
    assert {name: denied for name, denied in denied_calls(runs).items() if denied} == {}


def test_the_functions_own_calls_are_recorded_and_checked(runs):
    """Not only dbt-athena's: the handlers' raw inventory, merge lease, parse record and
    artifacts (the dbt-executor), and Elementary's tables written through pyiceberg, whose
    data goes through pyarrow's S3 client, not botocore (the test-executor)."""

    def calls(name, function):
        return {
            (c.service, c.operation, c.params.get("Bucket") or c.params.get("TableName"))
            for i in runs[name].invocations
            if i.function == function
            for c in i.recorder.calls
            if c.via == "client"
        }

    executor, tester = calls("first", "dbt_executor"), calls("tests", "test_executor")
    assert {
        ("s3", "ListObjectsV2", NAMES.raw_bucket),
        ("s3", "GetObject", NAMES.raw_bucket),
        ("s3", "PutObject", NAMES.curated_bucket),
        ("dynamodb", "PutItem", NAMES.runs_table),
        ("dynamodb", "DeleteItem", NAMES.runs_table),
    } <= executor
    assert {
        ("s3", "PutObject", NAMES.curated_bucket),
        ("s3", "CreateMultipartUpload", NAMES.curated_bucket),
        ("glue", "CreateTable", None),
    } <= tester
    elementary = f"s3://{NAMES.curated_bucket}/{NAMES.elementary_database}/"
    writes = [
        c
        for i in runs["tests"].invocations
        for c in i.recorder.calls
        if c.operation == "CreateMultipartUpload"
    ]
    assert writes and all(
        f"s3://{c.params['Bucket']}/{c.params['Key']}".startswith(elementary) for c in writes
    )
    # The data-quality report, rendered from what the run recorded and stored for the view (a
    # publish that failed is only logged: without this, its loss on AWS would pass unseen).
    reports = [
        c.params["Key"]
        for i in runs["tests"].invocations
        for c in i.recorder.calls
        if c.operation == "PutObject" and c.params.get("Key", "").startswith(s3_calls.REPORTS)
    ]
    assert len(reports) == 1 and reports[0].endswith(".html"), reports


def test_every_s3_call_of_the_runs_is_tried_with_the_functions_role_on_enforcing_iam(runs):
    """tests/integration/test_s3_least_privilege.py makes s3_calls.NEEDED with each function's
    role on moto with IAM enforced: each S3 call recorded here must be one of them (same
    function, origin, operation, bucket and key shape), or a call the code starts making would
    go untried there."""
    recorded = {
        (
            i.function,
            c.via,
            c.operation,
            c.params["Bucket"],
            c.params.get("Key", c.params.get("Prefix", "")),
        )
        for run in runs.values()
        for i in run.invocations
        for c in i.recorder.calls
        if c.service == "s3"
    }
    functions = {call[0] for call in recorded}
    assert functions == set(s3_calls.DBT_FUNCTIONS)
    assert s3_calls.unlisted(recorded) == []


def test_every_table_keeps_its_data_under_its_database_and_name(runs):
    """dbt-athena's data path is <s3_data_dir>/<schema>/<table>/<uuid>: the profile once gave
    s3_data_dir with the database in it, and every table was written under
    <database>/<database>/."""
    assert checks.misplaced_tables(all_sql(runs), NAMES.curated_bucket) == []
    doubled = f"{CURATED}/{CURATED}/"
    assert checks.misplaced_tables(
        [
            f"create table {CURATED}.t with (table_type='iceberg', location='s3://b/{doubled}t/u')"
            " as select 1 as a"
        ],
        "b",
    ) == [f"{CURATED}.t: s3://b/{doubled}t/u"]


def test_runs_with_different_run_keys_create_different_relations(runs):
    """dbt-athena's merge builds a temporary table per model (`<model>__dbt_tmp` unless the
    model sets unique_tmp_table_suffix, as dbt_project.yml does for every merged model)."""
    shared = set(model_configs(runs["daily"].invocations[-1]))  # the models' own relations
    daily = checks.created_relations(s.sql for s in runs["daily"].statements())
    backfill = checks.created_relations(s.sql for s in runs["backfill"].statements())
    assert checks.colliding_relations(daily, backfill, shared) == []


def test_the_bytes_a_model_reports_count_every_statement_it_ran(runs):
    """The recorder answers each statement with DataScannedInBytes = its length. dbt-athena's
    own figure (its last `select '{"rowcount":..,"data_scanned_in_bytes":..}'`) is the MERGE's
    alone; what the dbt runtime records (dbt_runtime.athena_scans) counts every statement of
    the model: its temporary table's CTAS and its pre-hook too."""
    daily = runs["daily"]
    by_model: dict[str, list[str]] = {}
    for statement in daily.statements():
        node = re.search(r'"node_id": "(model\.\w+\.\w+)"', statement.sql)
        if node:
            by_model.setdefault(node.group(1), []).append(statement.sql)
    counted = {k: v for i in daily.invocations for k, v in i.scanned.items()}
    undercounted = []
    for model, sql in by_model.items():
        reported = re.search(r'"data_scanned_in_bytes":(\d+)', sql[-1])
        scanned = sum(len(s) for s in sql if not re.search(r"select\s+'\{\"rowcount\"", s))
        assert counted.get(model) == scanned, model
        if reported and int(reported.group(1)) != scanned:
            undercounted.append(model.split(".")[-1])
    # the finding the runtime's count exists for: dbt-athena's figure misses statements
    assert {"fct_events", "quarantined_events"} <= set(undercounted)


def test_the_code_under_test_runs_with_the_lambda_images_packages_alone(tmp_path):
    """dbt, dbt-athena and the handlers run in the image's virtualenv (built from
    lambdas/requirements.lock): the local engine and the harness's own tools are not there,
    so an import the image lacks fails this harness. (sqlglot, which the harness parses SQL
    with, is in the image since the ingest function's dlt depends on it.)"""
    with account(project_copy(tmp_path), tmp_path / "work") as acct:
        found = acct.driver.request(
            {"op": "environment", "modules": ["duckdb", "dbt.adapters.duckdb", "moto"]}
        )
    assert Path(found["prefix"]).resolve() == image_python().parent.parent.resolve()
    assert found["importable"] == []


# -- each check fails on the defect it exists for -------------------------------------------


def test_a_duckdb_only_function_fails_the_allowlist(tmp_path):
    project = with_final_select_prefixed(
        project_copy(tmp_path), "stg_raw_events", "regexp_matches(event_id, '^e') as matched"
    )
    with account(project, tmp_path / "work") as acct:
        staging = acct.invoke(stage_args("staging"), dbt_vars("2026-11-20", "2026-11-21", "k"))
    sql = [s.sql for s in staging.recorder.statements]
    (problem,) = checks.unknown_functions(sql, checks.athena_functions())
    assert problem.endswith(": regexp_matches")


def test_a_merge_that_lost_its_window_fails_the_window_check(tmp_path):
    project = project_copy(tmp_path)
    model = project / "models" / "marts" / "quarantined_events.sql"
    text = model.read_text()
    predicates = "    incremental_predicates=merge_window_predicates('target.landed_on'),\n"
    assert predicates in text
    model.write_text(text.replace(predicates, ""))
    daily = dbt_vars("2026-11-21", "2026-11-22", "two")
    with account(project, tmp_path / "work") as acct:
        for _ in ("create", "merge"):  # the second run finds the table and merges
            merged = acct.invoke(["run", "--select", "quarantined_events"], daily)
    assert merged.success
    assert merge_problems([merged]) == [
        "quarantined_events: the ON clause lacks "
        "target.landed_on >= date '2026-11-19' and target.landed_on < date '2026-11-23'"
    ]


def test_a_role_without_a_permission_a_call_needs_fails_the_policy_check(runs):
    """dbt-athena drops a relation through Glue (and a full refresh drops the replaced
    table): a role without glue:DeleteTable fails those runs, and only on that action."""
    denied = denied_calls(runs, remove="glue:DeleteTable")
    table = f"arn:aws:glue:{REGION}:{iam.ACCOUNT}:table/{CURATED}"
    assert any(d.endswith(f"{table}/fct_events__bkp") for d in denied["full_refresh"])
    assert all(" needs glue:DeleteTable on " in d for run in denied.values() for d in run)


def test_a_role_that_cannot_list_the_raw_bucket_fails_on_the_handlers_inventory(runs):
    """The dbt-executor lists the interval's raw objects itself (dbt_runtime.raw_inputs)
    before dbt reads them: without s3:ListBucket on the raw bucket that call is named."""
    raw = f"arn:aws:s3:::{NAMES.raw_bucket}"
    denied = denied_calls(runs, remove="s3:ListBucket", on=raw)
    assert (
        f"s3:ListObjectsV2 (Bucket={NAMES.raw_bucket} Prefix=events/dt=2026-11-20/, by client) "
        f"needs s3:ListBucket on {raw}"
    ) in denied["first"]
    assert all(d.endswith(f"needs s3:ListBucket on {raw}") for run in denied.values() for d in run)


def test_the_other_checks_fail_on_what_they_forbid():
    hive = (
        'create table "awsdatacatalog"."c"."t" with (table_type=\'hive\', '
        "external_location='s3://b/t', format='parquet') as select 1 as a"
    )
    assert checks.hive_tables([hive], "c") == ["t: table_type=hive"]
    huge = "select '" + "x" * checks.MAX_QUERY_BYTES + "'"
    assert len(checks.oversized([huge])) == 1
    assert len(checks.unparsable(["merge into t using s on (t.a = s.a) when banana"])) == 1
    # a DuckDB name that sqlglot reads into a typed node Athena has under another name
    assert checks.called_functions("select levenshtein(a, b) from t") == {"levenshtein"}
    assert checks.colliding_relations({"a__dbt_tmp", "m"}, {"a__dbt_tmp", "m"}, {"m"}) == [
        "a__dbt_tmp"
    ]


def test_the_gateway_reads_s3s_operations_off_the_wire():
    """pyarrow's S3 client (pyiceberg's data files) never passes through botocore: its
    requests are named from their method, path and query alone."""
    key = {"Bucket": "b", "Key": "db/t/data/x.parquet"}
    listed = {"Bucket": "b", "Prefix": "db/"}
    cases = {
        ("GET", "/b", "list-type=2&prefix=db/"): ("ListObjectsV2", listed),
        ("HEAD", "/b/db/t/data/x.parquet", ""): ("HeadObject", key),
        ("POST", "/b/db/t/data/x.parquet", "uploads"): ("CreateMultipartUpload", key),
        ("PUT", "/b/db/t/data/x.parquet", "partNumber=1&uploadId=u"): ("UploadPart", key),
    }
    for (method, path, query), expected in cases.items():
        parsed = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        assert gateway.s3_call(method, path, parsed, {}, b"") == expected
    unsigned = ApiCall("unsigned", "GET", {"Key": "/b/k"})
    assert iam.denied(iam.policy("dbt_executor", POLICY_VARS, REGION), [unsigned], REGION, "w")
