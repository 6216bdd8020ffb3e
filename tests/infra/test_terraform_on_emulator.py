"""The real Terraform applied to the local emulator, and compared with the local provisioner.

terraform/environments/sandbox is applied to a private emulator (every module but MWAA, which
the emulator lacks; its VPC comes along, as the dbt ECS tasks run in its private subnets), a
second plan must show no changes, and what Terraform created is read back and compared with
what local/provision.py creates on another emulator: names, each Lambda's environment, memory,
timeout and role, the state machine definition, the ECS cluster and the dbt task definition,
the crawler, the Glue catalog and the buckets. Where the two still differ on purpose,
KNOWN_DIFFERENCES says so and why; a difference that disappears must leave that list too.

Skips with a message when the terraform CLI or an offline AWS provider is missing. About three
minutes: run alone with `make test-terraform-emulator`.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from lakehouse_ops.naming import resource_names
from local.aws import CREDENTIALS_ENV, client
from local.provision import provision
from local.stack import LocalStack
from tests.infra.conftest import ENVIRONMENTS_DIR, TerraformRunner

pytestmark = [pytest.mark.infra, pytest.mark.integration]

SANDBOX = ENVIRONMENTS_DIR / "sandbox"
ENVIRONMENT = "local"
PREFIX = "lakehouse"
# Every module the emulator can host: MWAA (orchestration) is left out; its VPC (network) is
# applied as the workflow's dependency (the dbt ECS tasks' subnets).
TARGETS = ["storage", "catalog", "metadata", "notifications", "analytics", "workflow"]
# The endpoints block of the provider: every service the targeted modules use.
SERVICES = (
    "athena cloudwatch cloudwatchlogs dynamodb ec2 ecr ecs glue iam kms lakeformation lambda logs "
    "s3 sfn sns sqs sts"
).split()

# (section, item, field) -> why local/provision.py still differs from Terraform there.
KNOWN_DIFFERENCES = {
    ("functions", "dbt_executor_function", "environment_keys"): (
        "ATHENA_WORKGROUP only on AWS: the local target is DuckDB and there is no workgroup"
    ),
    ("functions", "test_executor_function", "environment_keys"): (
        "ATHENA_WORKGROUP only on AWS: the local target is DuckDB and there is no workgroup"
    ),
    ("dbt_task", "definition", "environment_keys"): (
        "ATHENA_WORKGROUP only on AWS, as for the functions the task runs the handler of"
    ),
    ("tables", "raw_database", "names"): (
        "events_lines/users_lines exist for Athena only: DuckDB reads the raw files directly"
    ),
    **{
        ("buckets", bucket, "encryption"): "SSE-KMS on AWS, the emulator's default locally"
        for bucket in ("raw_bucket", "curated_bucket", "query_results_bucket")
    },
}


def _override(endpoint: str) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return (
        "# Written by tests/infra/test_terraform_on_emulator.py: the emulator, not AWS.\n"
        'terraform {\n  backend "local" {}\n}\n\n'
        'provider "aws" {\n'
        f'  access_key                  = "{CREDENTIALS_ENV["AWS_ACCESS_KEY_ID"]}"\n'
        f'  secret_key                  = "{CREDENTIALS_ENV["AWS_SECRET_ACCESS_KEY"]}"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )


@pytest.fixture(scope="module")
def emulators(tmp_path_factory):
    stacks = {
        side: LocalStack(tmp_path_factory.mktemp(f"emulator-{side}"))
        for side in ("terraform", "provisioner")
    }
    try:
        yield {side: stack.start() for side, stack in stacks.items()}
    finally:
        for stack in stacks.values():
            stack.down()


@pytest.fixture(scope="module")
def terraform(terraform_runner, tmp_path_factory) -> TerraformRunner:
    """A private copy of terraform/: the override file below must not reach other checks."""
    return TerraformRunner(
        terraform_runner.tf, terraform_runner.mirror, tmp_path_factory.mktemp("terraform-apply")
    )


@pytest.fixture(scope="module")
def applied(terraform, emulators):
    """(apply, plan) of the sandbox environment on the Terraform side's emulator."""
    terraform_runner = terraform
    directory = terraform_runner.copy_of(SANDBOX)
    (directory / "emulator_override.tf").write_text(_override(emulators["terraform"]))
    variables = [
        f"-var=environment={ENVIRONMENT}",
        f"-var=prefix={PREFIX}",
        "-var=bucket_suffix=",
        "-var=force_destroy=true",
    ]
    targets = [f"-target=module.{name}" for name in TARGETS]
    init = terraform_runner.run(SANDBOX, "init", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    apply = terraform_runner.run(
        SANDBOX, "apply", "-auto-approve", "-input=false", "-no-color", *variables, *targets,
        timeout=600,
    )  # fmt: skip
    plan = terraform_runner.run(
        SANDBOX, "plan", "-detailed-exitcode", "-input=false", "-no-color", *variables, *targets,
        timeout=300,
    )  # fmt: skip
    return apply, plan


@pytest.fixture(scope="module")
def provisioned(emulators):
    return provision(emulators["provisioner"], environment=ENVIRONMENT, prefix=PREFIX)


def test_apply_succeeds_and_a_second_plan_changes_nothing(applied):
    apply, plan = applied
    assert apply.returncode == 0, _tail(apply)
    # -detailed-exitcode: 0 no changes, 2 changes pending, 1 error.
    assert plan.returncode == 0, _tail(plan)


@pytest.fixture(scope="module")
def created(applied, provisioned, emulators) -> dict[str, dict]:
    assert applied[0].returncode == 0, _tail(applied[0])
    names = resource_names(PREFIX, ENVIRONMENT)
    return {side: inventory(url, names) for side, url in emulators.items()}


def test_terraform_and_the_local_provisioner_create_the_same_resources(created):
    differences = dict(_differences(created["terraform"], created["provisioner"]))
    unexplained = {k: v for k, v in differences.items() if k not in KNOWN_DIFFERENCES}
    assert not unexplained, "Terraform (left) and local/provision.py (right) differ:\n" + "\n".join(
        f"  {'.'.join(key)}: {left!r} != {right!r}" for key, (left, right) in unexplained.items()
    )
    resolved = set(KNOWN_DIFFERENCES) - set(differences)
    assert not resolved, f"no longer different, remove from KNOWN_DIFFERENCES: {sorted(resolved)}"


@pytest.mark.parametrize(
    ("section", "item", "field", "value"),
    [
        ("functions", "dbt_executor_function", "memory", 1024),
        ("functions", "test_executor_function", "timeout", 60),
        ("functions", "ingest_function", "environment_keys", ["RAW_BUCKET"]),
        ("buckets", "raw_bucket", "exists", False),
        ("state_machine", "workflow", "role", "another-role"),
        ("functions", "dbt_executor_function", "environment_keys", ["DBT_TARGET"]),
    ],
)
def test_a_difference_the_comparison_must_see(created, section, item, field, value):
    """The comparison fails on a changed name, memory, timeout, role or environment key (an
    injected change on the provisioner's side)."""
    provisioner = {k: {i: dict(f) for i, f in v.items()} for k, v in created["provisioner"].items()}
    provisioner[section][item][field] = value
    differences = dict(_differences(created["terraform"], provisioner))
    assert (section, item, field) in differences


def inventory(endpoint: str, names) -> dict[str, dict[str, dict]]:
    """What one emulator holds for the environment, in a form both sides can be compared in."""
    s3 = client("s3", endpoint)
    buckets = {
        key: {
            "exists": names.as_dict()[key] in {b["Name"] for b in s3.list_buckets()["Buckets"]},
            "versioning": s3.get_bucket_versioning(Bucket=names.as_dict()[key]).get("Status"),
            "encryption": _encryption(s3, names.as_dict()[key]),
        }
        for key in ("raw_bucket", "curated_bucket", "query_results_bucket")
    }
    table = client("dynamodb", endpoint).describe_table(TableName=names.runs_table)["Table"]
    runs_table = {
        "ledger": {
            "keys": sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
            "attributes": sorted(
                (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
            ),
            "billing": (table.get("BillingModeSummary") or {}).get("BillingMode"),
            "ttl": {
                k: v
                for k, v in client("dynamodb", endpoint)
                .describe_time_to_live(TableName=names.runs_table)["TimeToLiveDescription"]
                .items()
                if k in ("AttributeName", "TimeToLiveStatus")
            },
        }
    }
    glue = client("glue", endpoint)
    databases = {
        key: {
            "location": glue.get_database(Name=names.as_dict()[key])["Database"].get("LocationUri")
        }
        for key in ("raw_database", "crawled_database", "curated_database", "elementary_database")
    }
    tables = {
        key: {
            "names": sorted(
                t["Name"] for t in glue.get_tables(DatabaseName=names.as_dict()[key])["TableList"]
            )
        }
        for key in ("raw_database", "crawled_database")
    }
    crawler = glue.get_crawler(Name=names.raw_crawler)["Crawler"]
    crawlers = {
        "raw": {
            "role": _role_name(crawler["Role"]),
            "database": crawler.get("DatabaseName"),
            "s3_paths": sorted(t["Path"] for t in crawler["Targets"].get("S3Targets", [])),
            "recrawl": (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior"),
        }
    }
    lam = client("lambda", endpoint)
    functions = {}
    for key in ("dbt_executor_function", "test_executor_function", "ingest_function"):
        config = lam.get_function_configuration(FunctionName=names.as_dict()[key])
        functions[key] = {
            "role": _role_name(config["Role"]),
            "memory": config.get("MemorySize"),
            "timeout": config.get("Timeout"),
            "environment_keys": sorted((config.get("Environment") or {}).get("Variables", {})),
        }
    ecs = client("ecs", endpoint)
    task = ecs.describe_task_definition(taskDefinition=names.dbt_task_family)["taskDefinition"]
    container = task["containerDefinitions"][0]
    dbt_task = {
        "cluster": {
            "names": sorted(
                c["clusterName"]
                for c in ecs.describe_clusters(clusters=[names.ecs_cluster])["clusters"]
            )
        },
        "definition": {
            "family": task["family"],
            "cpu": task.get("cpu"),
            "memory": task.get("memory"),
            "network_mode": task.get("networkMode"),
            "compatibilities": sorted(task.get("requiresCompatibilities") or []),
            "task_role": _role_name(task.get("taskRoleArn", "")),
            "execution_role": _role_name(task.get("executionRoleArn", "")),
            "container": container["name"],
            "entry_point": container.get("entryPoint"),
            "environment_keys": sorted(e["name"] for e in container.get("environment") or []),
        },
    }
    sfn = client("stepfunctions", endpoint)
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    machine = sfn.describe_state_machine(stateMachineArn=machines[names.state_machine])
    state_machine = {
        "workflow": {
            "role": _role_name(machine["roleArn"]),
            "definition": _without_network_ids(json.loads(machine["definition"])),
        }
    }
    topics = {
        t["TopicArn"].rsplit(":", 1)[-1] for t in client("sns", endpoint).list_topics()["Topics"]
    }
    return {
        "buckets": buckets,
        "runs_table": runs_table,
        "databases": databases,
        "tables": tables,
        "crawler": crawlers,
        "functions": functions,
        "state_machine": state_machine,
        "dbt_task": dbt_task,
        "topics": {"alerts": {"exists": names.alerts_topic in topics}},
    }


def _differences(left: dict, right: dict):
    for section in sorted(set(left) | set(right)):
        items = left.get(section, {}), right.get(section, {})
        for item in sorted(set(items[0]) | set(items[1])):
            fields = items[0].get(item, {}), items[1].get(item, {})
            for field in sorted(set(fields[0]) | set(fields[1])):
                a, b = fields[0].get(field), fields[1].get(field)
                if a != b:
                    yield (section, item, field), (a, b)


def _encryption(s3, bucket: str) -> str | None:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except s3.exceptions.ClientError:
        return None
    return rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


def _without_network_ids(definition: dict) -> dict:
    """The ECS states' subnets and security group are ids each side's EC2 made up (Terraform's
    sandbox VPC, the provisioner's): compared as present, not by value."""
    for state in definition["States"].values():
        network = (state.get("Parameters") or {}).get("NetworkConfiguration")
        if network:
            vpc = network["AwsvpcConfiguration"]
            for key in ("Subnets.$", "SecurityGroups.$"):
                vpc[key] = re.sub(r"'[^']*', ','", "'<ids>', ','", vpc[key])
    return definition


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _tail(result: subprocess.CompletedProcess, lines: int = 60) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def test_the_emulator_answers_what_the_provider_asks_beyond_moto(emulators):
    """The two Step Functions calls moto lacks (local/terraform_compat.py), answered as AWS
    would: a broken definition is reported, not accepted."""
    sfn = client("stepfunctions", emulators["provisioner"])
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}
    answer = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    assert answer["result"] == "FAIL"
    assert "Missing" in answer["diagnostics"][0]["message"]
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    assert sfn.validate_state_machine_definition(definition=json.dumps(good))["result"] == "OK"
    assert sfn.validate_state_machine_definition(definition="{not json")["result"] == "FAIL"
