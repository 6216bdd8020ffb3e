"""Structural checks of the Terraform against the code it configures (python-hcl2): the Lambda
environment contract, the Airflow Variable, IAM least privilege, and the one ASL template."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from lakehouse_ops.naming import resource_names
from local.provision import (
    ASL_TEMPLATE,
    FUNCTIONS_CONTRACT,
    LAKEHOUSE_CONFIG_CONTRACT,
    Provisioned,
    render_template,
)
from tests.infra.conftest import (
    ENVIRONMENTS_DIR,
    INFRA_TESTS_DIR,
    MODULES_DIR,
    REPO_ROOT,
    TERRAFORM_DIR,
    blocks,
    load_hcl,
    locals_of,
    strip_quotes,
)

pytest.importorskip("hcl2", reason="python-hcl2 is not installed (requirements/local.in)")

pytestmark = [pytest.mark.infra, pytest.mark.unit]

WORKFLOW = MODULES_DIR / "workflow"
TEMPLATE_VARIABLES = {
    "ingest_arn",
    "dbt_executor_arn",
    "test_executor_arn",
    "runs_table",
    "alerts_topic_arn",
    "curated_bucket",
    "ecs_results_prefix",
    "ecs_cluster_arn",
    "dbt_task_definition_arn",
    "dbt_task_container",
    "ecs_subnet_ids",
    "ecs_security_group_ids",
}


def _workflow():
    return load_hcl(WORKFLOW / "main.tf")


# --- the Lambda environment contract ------------------------------------------------------

# Read by the code but not configuration Terraform sets: AWS_* come from the Lambda runtime,
# DUCKDB_PATH is the local target's, TMPDIR is the OS's (the local iceberg_table materialization).
NOT_CONFIGURATION = {"DUCKDB_PATH", "TMPDIR"}


def env_vars_read_by_the_lambdas() -> set[str]:
    """Every variable settings.py and the dbt project read, minus AWS runtime / local-only ones."""
    settings = (REPO_ROOT / "lambdas" / "dbt_runtime" / "settings.py").read_text()
    names = set(re.findall(r'required\(\s*"([A-Z0-9_]+)"', settings))
    names |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', settings))
    names |= set(re.findall(r'os\.getenv\(\s*"([A-Z0-9_]+)"', settings))
    names |= set(re.findall(r'os\.environ\[\s*"([A-Z0-9_]+)"\s*\]', settings))
    dbt = REPO_ROOT / "dbt_project"
    dbt_files = [dbt / "profiles.yml", dbt / "dbt_project.yml"]
    dbt_files += list((dbt / "models").rglob("*.sql")) + list((dbt / "models").rglob("*.yml"))
    dbt_files += list((dbt / "macros").rglob("*.sql"))
    for path in dbt_files:
        names |= set(re.findall(r"env_var\(\s*['\"]([A-Z0-9_]+)['\"]", path.read_text()))
    return {n for n in names if not n.startswith("AWS_") and n not in NOT_CONFIGURATION}


def test_the_lambdas_read_what_the_contract_says():
    read = env_vars_read_by_the_lambdas()
    # Sanity: the parser finds the settings and the profile's work group.
    assert {"DBT_TARGET", "RAW_BUCKET", "ATHENA_RESULTS_S3", "ATHENA_WORKGROUP"} <= read


def test_both_dbt_functions_get_every_variable_the_lambdas_read():
    functions = blocks(_workflow(), "resource", "aws_lambda_function")
    assert set(functions) == {"this"}, "one for_each resource: every function, one definition"
    function = functions["this"]
    assert function["for_each"] == "${local.functions}"
    assert function["environment"][0]["variables"] == "${local.lambda_environment[each.key]}"
    kinds = {key: f["kind"] for key, f in FUNCTIONS_CONTRACT["functions"].items()}
    assert kinds == {"dbt_executor": "dbt", "test_executor": "dbt", "ingest": "ingest"}
    on_aws = set(FUNCTIONS_CONTRACT["environment"]) | set(
        FUNCTIONS_CONTRACT["aws_only_environment"]
    )
    missing = env_vars_read_by_the_lambdas() - on_aws
    assert not missing, (
        f"read by the Lambdas but not in contracts/functions.json: {sorted(missing)}"
    )


def test_the_ingest_function_gets_what_it_reads_and_nothing_of_dbt_s():
    handler = (REPO_ROOT / "lambdas" / "dbt_runtime" / "handlers" / "ingest.py").read_text()
    read = set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', handler))
    # AWS_* come from the Lambda runtime; INGEST_SOURCES_FILE overrides the image's sources file
    # (tests and the local stack's demos), the image carries contracts/sources.json.
    configured = {n for n in read if not n.startswith("AWS_")}
    # RUNS_TABLE: the run ledger, where it holds the lease of the source-day it ingests;
    # SOURCE_SECRETS_PREFIX: the environment's secrets of its sources (the naming rule).
    assert configured == {
        "RAW_BUCKET",
        "INGEST_STATE_PREFIX",
        "RUNS_TABLE",
        "SOURCE_SECRETS_PREFIX",
    }
    environment = FUNCTIONS_CONTRACT["ingest_environment"]
    assert configured <= set(environment)
    assert not {"DBT_TARGET", "ATHENA_RESULTS_S3", "CURATED_BUCKET"} & set(environment)
    assert environment["INGEST_STATE_PREFIX"] == "${ingest_state_prefix}"
    assert FUNCTIONS_CONTRACT["ingest_state_prefix"].startswith("_")


def test_the_dbt_role_policies_leave_the_ingest_function_out():
    """The dbt policies (Athena, Glue, the curated zone) loop over the dbt functions only; the
    ingest function's role has its own document."""
    workflow = _workflow()
    documents = blocks(workflow, "data", "aws_iam_policy_document")
    for name in ("lambda_common", "lambda"):
        assert documents[name]["for_each"] == "${local.dbt_functions}", name
    policies = blocks(workflow, "resource", "aws_iam_role_policy")
    assert policies["lambda"]["for_each"] == "${local.dbt_functions}"
    assert policies["ingest"]["role"] == '${aws_iam_role.lambda["ingest"].id}'
    assert policies["ingest"]["policy"] == "${data.aws_iam_policy_document.ingest.json}"


def test_the_ingest_role_reaches_only_its_state_its_sources_pages_and_its_secrets():
    document = blocks(_workflow(), "data", "aws_iam_policy_document")["ingest"]
    statements = {strip_quotes(s["sid"]): s for s in document["statement"]}
    for dynamic in document.get("dynamic", []):
        for block in dynamic.values():
            statements |= {strip_quotes(s["sid"]): s for s in block["content"]}
    actions = {a for s in statements.values() for a in _strings(s["actions"])}
    assert {a for a in actions if not a.startswith(("logs:", "xray:", "kms:"))} == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "secretsmanager:GetSecretValue",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    }
    # DynamoDB: the source-day lease, an item of the run ledger and nothing else.
    assert _strings(statements["IngestLease"]["resources"]) == ["${var.runs_table.arn}"]
    raw = '${var.storage.buckets["raw"].arn}'
    assert _strings(statements["OwnState"]["resources"]) == [
        raw + "/${local.ingest_state_prefix}/*"
    ]
    # the only raw objects it may write: its enabled sources' pages (the S3 least-privilege
    # integration test tries them, and others, under moto's IAM)
    assert _strings(statements["OwnPages"]["actions"]) == ["s3:GetObject", "s3:PutObject"]
    assert "local.ingest_page_keys" in str(statements["OwnPages"]["resources"])
    assert _strings(statements["ListOwnPrefixes"]["resources"]) == [raw]
    assert statements["ListOwnPrefixes"]["condition"][0]["variable"] == '"s3:prefix"'
    assert "aws_secretsmanager_secret.source" in str(statements["SourceSecrets"]["resources"])


def test_one_image_and_the_contract_s_handler_memory_and_timeout():
    function = blocks(_workflow(), "resource", "aws_lambda_function")["this"]
    assert function["package_type"] == '"Image"'
    assert function["image_uri"] == "${local.image_uri}"
    assert function["image_config"][0]["command"] == ["${each.value.handler}"]
    assert function["timeout"] == "${each.value.timeout_s}"
    assert function["memory_size"] == "${each.value.memory_mb}"
    assert function["tracing_config"][0]["mode"] == '"Active"'


# --- the Airflow Variable lakehouse_config -------------------------------------------------


def test_the_local_provisioner_writes_the_contract_s_lakehouse_config():
    provisioned = Provisioned(
        names=resource_names("lakehouse", "dev"),
        endpoint_url="",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
        alerts_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        alerts_queue_url="",
        dbt_executor_arn="",
        test_executor_arn="",
        ingest_arn="",
    )
    config = provisioned.airflow_config()
    assert set(config) == set(LAKEHOUSE_CONFIG_CONTRACT["keys"])
    assert config["runs_table"] == "lakehouse-dev-runs"
    assert config["state_machine_arn"].endswith(":stateMachine:m")
    assert not [value for value in config.values() if "${" in value]


@pytest.mark.parametrize("environment", sorted(p.name for p in ENVIRONMENTS_DIR.iterdir()))
def test_every_environment_writes_lakehouse_config_from_the_contract(environment):
    doc = load_hcl(ENVIRONMENTS_DIR / environment / "main.tf")
    config = locals_of(doc)["lakehouse_config"]
    assert "contracts/lakehouse_config.json" in config and "templatestring" in config
    orchestration = [m for m in doc["module"] if '"orchestration"' in m][0]['"orchestration"']
    assert orchestration["lakehouse_config"] == "${local.lakehouse_config}"


def test_the_variable_is_the_secret_the_backend_reads():
    doc = load_hcl(MODULES_DIR / "orchestration" / "main.tf")
    secret = blocks(doc, "resource", "aws_secretsmanager_secret")["lakehouse_config"]
    assert strip_quotes(secret["name"]) == "airflow/variables/lakehouse_config"
    version = blocks(doc, "resource", "aws_secretsmanager_secret_version")["lakehouse_config"]
    assert version["secret_string"] == "${jsonencode(var.lakehouse_config)}"
    # MWAA's options come from mwaa/airflow_configuration.yaml, its secrets backend included.
    assert "mwaa/airflow_configuration.yaml" in locals_of(doc)["airflow_configuration_file"]
    assert (
        "local.airflow_configuration_file.mwaa_only"
        in (locals_of(doc)["airflow_configuration_options"])
    )
    from mwaa.airflow_configuration import load

    mwaa_only = load()["mwaa_only"]
    assert mwaa_only["secrets.backend"].endswith("SecretsManagerBackend")
    assert json.loads(mwaa_only["secrets.backend_kwargs"])["variables_prefix"] == (
        "airflow/variables"
    )


# --- IAM least privilege -------------------------------------------------------------------

# Actions that support no resource-level permissions, so "*" is their only valid resource.
STAR_RESOURCE_ACTIONS = re.compile(
    r"^(logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|"
    r"ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|"
    r"xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|"
    r"cloudwatch:PutMetricData|s3:GetAccountPublicAccessBlock|ecr:GetAuthorizationToken|"
    r"ecs:DescribeTaskDefinition)$"
)
NO_WILDCARD_SERVICES = {"s3", "dynamodb", "glue", "athena", "states"}


def identity_statements():
    """(file, document, statement) of every Allow statement of an identity policy document.

    Statements with principals belong to resource policies (key, bucket, repository, trust
    policies) and are not identity grants.
    """
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for name, document in blocks(load_hcl(path), "data", "aws_iam_policy_document").items():
            for statement in document.get("statement", []):
                if statement.get("principals"):
                    continue
                if strip_quotes(statement.get("effect", '"Allow"')) != "Allow":
                    continue
                yield path, name, statement


def _strings(value) -> list[str]:
    if isinstance(value, list):
        return [strip_quotes(v) for v in value]
    return [strip_quotes(value)]


def test_policies_are_policy_documents():
    """Every inline role policy is an aws_iam_policy_document, so the checks below see it."""
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        doc = load_hcl(path)
        for kind in ("aws_iam_role_policy", "aws_iam_policy"):
            for name, body in blocks(doc, "resource", kind).items():
                assert re.fullmatch(
                    r"\$\{data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json\}", body["policy"]
                ), f"{path}: {kind}.{name} policy is not a policy document"


def test_no_service_wide_actions():
    checked = 0
    for path, name, statement in identity_statements():
        for action in _strings(statement["actions"]):
            checked += 1
            service, _, verb = action.partition(":")
            assert action != "*", f"{path}: {name} grants '*'"
            assert verb != "*", f"{path}: {name} grants {action}"
            if service in NO_WILDCARD_SERVICES:
                assert "*" not in verb or verb.endswith("*") and len(verb) > 3, (
                    f"{path}: {name} grants {action}"
                )
    assert checked > 50


def test_star_resources_only_for_actions_without_resource_level_permissions():
    for path, name, statement in identity_statements():
        resources = _strings(statement["resources"])
        if "*" not in resources:
            continue
        assert resources == ["*"]
        for action in _strings(statement["actions"]):
            assert STAR_RESOURCE_ACTIONS.match(action), (
                f"{path}: {name} statement {statement.get('sid')} grants {action} on '*'"
            )
        # Documented: a comment right above the statement says why "*" is needed.
        sid = strip_quotes(statement["sid"])
        pattern = rf'#[^\n]*"\*"[^\n]*\n\s*statement \{{\s*\n\s*sid\s*=\s*"{sid}"'
        assert re.search(pattern, path.read_text()), (
            f'{path}: statement {sid} uses "*" without a comment saying why'
        )


def test_least_privilege_of_the_state_machine_role():
    document = blocks(_workflow(), "data", "aws_iam_policy_document")["states"]
    actions = {a for s in document["statement"] for a in _strings(s["actions"])}
    data_actions = {a for a in actions if not a.startswith(("logs:", "xray:"))}
    assert data_actions == {
        "lambda:InvokeFunction",
        "dynamodb:UpdateItem",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        # compute=ecs: the dbt task, its roles, the rule .sync needs, the task's result
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "iam:PassRole",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
        "s3:GetObject",
    }
    statements = {strip_quotes(s["sid"]): s for s in document["statement"]}
    assert _strings(statements["RunDbtTask"]["resources"]) == [
        "${aws_ecs_task_definition.dbt.arn_without_revision}:*"
    ]
    assert (
        _strings(statements["PassDbtTaskRoles"]["resources"])
        == ["${[for role in aws_iam_role.dbt_task : role.arn]}"]
        or statements["PassDbtTaskRoles"]["condition"]
    )
    assert _strings(statements["ReadDbtTaskResults"]["resources"]) == ["${local.ecs_results_arn}"]
    assert _strings(statements["EcsSyncRule"]["resources"])[0].endswith(
        ":rule/StepFunctionsGetEventsForECSTaskRule"
    )


def test_mwaa_role_reaches_only_its_resources():
    doc = load_hcl(MODULES_DIR / "orchestration" / "main.tf")
    statements = {
        strip_quotes(s["sid"]): s
        for s in blocks(doc, "data", "aws_iam_policy_document")["execution"]["statement"]
    }
    assert _strings(statements["StartStateMachine"]["resources"]) == ["${var.state_machine.arn}"]
    assert set(_strings(statements["FollowExecutions"]["actions"])) == {
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:RedriveExecution",
    }
    assert set(_strings(statements["RawCrawler"]["actions"])) == {
        "glue:StartCrawler",
        "glue:GetCrawler",
    }
    # A run's cost: its functions' memory, its crawls, its ECS task's size; nothing else.
    assert _strings(statements["RunCostFunctions"]["actions"]) == [
        "lambda:GetFunctionConfiguration"
    ]
    assert _strings(statements["RunCostFunctions"]["resources"]) == [
        "${[for f in values(var.functions) : f.arn]}"
    ]
    assert _strings(statements["RunCostCrawls"]["actions"]) == ["glue:ListCrawls"]
    assert _strings(statements["RunCostCrawls"]["resources"]) == ["${var.raw_crawler.arn}"]
    assert _strings(statements["RunCostTaskSizes"]["actions"]) == ["ecs:DescribeTaskDefinition"]
    assert set(_strings(statements["RunLedger"]["actions"])) == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
    }
    assert _strings(statements["RunLedger"]["resources"]) == ["${var.runs_table.arn}"]
    for resource in _strings(statements["ReadSourceBucket"]["resources"]):
        assert resource.startswith("${local.bucket_arn}")
    # The Lakehouse view reads the data-quality reports, and nothing else of the curated bucket.
    assert _strings(statements["DataQualityReports"]["actions"]) == ["s3:GetObject"]
    assert _strings(statements["DataQualityReports"]["resources"]) == [
        '${var.storage.buckets["curated"].arn}/${local.functions.dbt_artifacts_prefix}/'
        "${local.functions.reports_prefix}/*"
    ]
    curated = [s for s in statements.values() if "curated" in " ".join(_strings(s["resources"]))]
    assert [strip_quotes(s["sid"]) for s in curated] == ["DataQualityReports"]


# --- the one state machine template ---------------------------------------------------------


def test_state_machine_renders_the_one_asl_template():
    machines = blocks(_workflow(), "resource", "aws_sfn_state_machine")
    assert set(machines) == {"this"}
    definition = machines["this"]["definition"]
    match = re.fullmatch(
        r'\$\{templatefile\("\$\{path\.module\}/(?P<file>[^"]+)", \{(?P<vars>.*)\}\)\}', definition
    )
    assert match, f"definition is not a templatefile of the module: {definition}"
    assert WORKFLOW / match.group("file") == ASL_TEMPLATE
    passed = set(re.findall(r"(\w+) = ", match.group("vars")))
    assert passed == TEMPLATE_VARIABLES
    placeholders = set(re.findall(r"\$\{([A-Za-z_]\w*)\}", ASL_TEMPLATE.read_text()))
    assert placeholders == TEMPLATE_VARIABLES
    assert [p.name for p in TERRAFORM_DIR.rglob("*.asl.json")] == ["state_machine.asl.json"]
    logging = machines["this"]["logging_configuration"][0]
    assert strip_quotes(logging["level"]) == "ALL" and logging["include_execution_data"] is True
    assert machines["this"]["tracing_configuration"][0]["enabled"] is True


def rendered_definition() -> str:
    arn = "arn:aws:{}:us-east-1:123456789012:{}"
    return render_template(
        ASL_TEMPLATE.read_text(),
        {
            "ingest_arn": arn.format("lambda", "function:lakehouse-dev-ingest"),
            "dbt_executor_arn": arn.format("lambda", "function:lakehouse-dev-dbt-executor"),
            "test_executor_arn": arn.format("lambda", "function:lakehouse-dev-test-executor"),
            "runs_table": "lakehouse-dev-runs",
            "alerts_topic_arn": arn.format("sns", "lakehouse-dev-alerts"),
            "curated_bucket": "lakehouse-dev-curated",
            "ecs_results_prefix": "dbt_artifacts/ecs_results",
            "ecs_cluster_arn": arn.format("ecs", "cluster/lakehouse-dev"),
            "dbt_task_definition_arn": arn.format("ecs", "task-definition/lakehouse-dev-dbt-task"),
            "dbt_task_container": "dbt-runtime",
            "ecs_subnet_ids": "subnet-0a,subnet-0b",
            "ecs_security_group_ids": "sg-0a",
        },
    )


@pytest.fixture(scope="module")
def asl_validator() -> str:
    binary = INFRA_TESTS_DIR / "node_modules" / ".bin" / "asl-validator"
    if binary.exists():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm not found: cannot install asl-validator (tests/infra/package.json)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(INFRA_TESTS_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    if result.returncode != 0 or not binary.exists():
        pytest.skip(f"npm ci of tests/infra/package.json failed (offline?): {result.stderr[-500:]}")
    return str(binary)


def test_rendered_definition_passes_asl_validator(asl_validator, tmp_path):
    definition = tmp_path / "state_machine.json"
    definition.write_text(rendered_definition())
    result = subprocess.run(
        [asl_validator, "--json-path", str(definition)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(asl_validator, tmp_path):
    broken = json.loads(rendered_definition())
    broken["States"]["DbtStaging"]["Next"] = "NoSuchState"
    definition = tmp_path / "broken.json"
    definition.write_text(json.dumps(broken))
    result = subprocess.run(
        [asl_validator, "--json-path", str(definition)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0


def test_package_lock_pins_asl_validator():
    lock = json.loads((INFRA_TESTS_DIR / "package-lock.json").read_text())
    package = json.loads((INFRA_TESTS_DIR / "package.json").read_text())
    pinned = package["devDependencies"]["asl-validator"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned)
    assert lock["packages"]["node_modules/asl-validator"]["version"] == pinned
