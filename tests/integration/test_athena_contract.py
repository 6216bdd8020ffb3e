"""The Athena contract, checked offline: dbt-athena's real materializations run the project's
athena target against moto, Athena's query execution answered by a recorder
(tests/athena_contract), and what they send is checked against Athena's rules. Each check is
also shown to fail on a copy of the project with the defect it exists for."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlglot import exp

from tests.athena_contract import checks, iam
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

pytestmark = [pytest.mark.integration, pytest.mark.cost(3)]
PROJECT_VARS = yaml.safe_load((REPO_PROJECT / "dbt_project.yml").read_text())["vars"]
# The workflow module's variables for this environment (what the sandbox passes it).
POLICY_VARS = {
    **NAMES.as_dict(),
    "athena_workgroup": WORKGROUP,
    "kms_key_arn": f"arn:aws:kms:{REGION}:{iam.ACCOUNT}:key/ci",
    "runs_table_arn": f"arn:aws:dynamodb:{REGION}:{iam.ACCOUNT}:table/{NAMES.runs_table}",
}


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


def denied_calls(runs, remove: str | None = None) -> dict[str, list[str]]:
    """Per run, the recorded calls its function's role (as Terraform declares it) denies."""
    denied = {}
    for name, run in runs.items():
        function = "test_executor" if name == "tests" else "dbt_executor"
        statements = iam.policy(function, POLICY_VARS, REGION)
        if remove:
            statements = iam.without(statements, remove)
        needs = [n for call in run.calls() for n in iam.needs(call, REGION, WORKGROUP)]
        denied[name] = iam.denied(statements, needs)
    return denied


def test_every_aws_call_of_the_runs_is_allowed_by_the_functions_role(runs):
    assert {name: denied for name, denied in denied_calls(runs).items() if denied} == {}


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
    assert all(d.startswith("glue:DeleteTable on ") for run in denied.values() for d in run)


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
