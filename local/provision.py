"""Creates one environment's resources in the local emulator, as Terraform does on AWS.

The same names (naming.py), the same state machine template file, and the same Lambda
environment variables as the Terraform modules; on top, what only the local mode needs: an SQS
queue subscribed to the alerts topic (the stand-in for an e-mail subscription, so alerts can be
read back) and the Airflow connection/Variable written as environment variables.
"""

from __future__ import annotations

import io
import json
import re
import string
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from lakehouse_ops.naming import PIPELINE, ResourceNames, resource_names
from local.aws import ACCOUNT_ID, REGION, client

REPO_ROOT = Path(__file__).resolve().parent.parent
ASL_TEMPLATE = REPO_ROOT / "terraform" / "modules" / "workflow" / "state_machine.asl.json"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The functions' handlers, memory, timeout and environment (terraform/modules/workflow reads the
# same file).
FUNCTIONS_CONTRACT = json.loads((REPO_ROOT / "contracts" / "functions.json").read_text())
LAMBDA_HANDLERS = {
    f"{key}_function": function["handler"]
    for key, function in FUNCTIONS_CONTRACT["functions"].items()
}
DBT_ARTIFACTS_PREFIX = FUNCTIONS_CONTRACT["dbt_artifacts_prefix"]
# The dbt-executor as an ECS task (terraform/modules/workflow creates the same task definition).
ECS_TASK = FUNCTIONS_CONTRACT["ecs_task"]
ECS_RESULTS_PREFIX = f"{DBT_ARTIFACTS_PREFIX}/{ECS_TASK['results_prefix']}"
INGEST_STATE_PREFIX = FUNCTIONS_CONTRACT["ingest_state_prefix"]
LAKEHOUSE_CONFIG_CONTRACT = json.loads(
    (REPO_ROOT / "contracts" / "lakehouse_config.json").read_text()
)
# The run ledger's key and TTL attribute (Terraform's metadata module reads the same file).
RUN_RECORD_CONTRACT = json.loads((REPO_ROOT / "contracts" / "run_record.json").read_text())
RUNS_TABLE_KEYS = {
    "KeySchema": [
        {"AttributeName": RUN_RECORD_CONTRACT["key"]["hash"], "KeyType": "HASH"},
        {"AttributeName": RUN_RECORD_CONTRACT["key"]["range"], "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": RUN_RECORD_CONTRACT["key"][part], "AttributeType": "S"}
        for part in ("hash", "range")
    ],
}
# The raw datasets, each a prefix of the raw bucket (the crawler's and the notification's).
RAW_DATASETS = list(json.loads((REPO_ROOT / "contracts" / "sources.json").read_text())["datasets"])
# The raw-arrivals queues' settings and events (terraform/modules/arrivals reads the same file).
RAW_ARRIVALS_CONTRACT = json.loads((REPO_ROOT / "contracts" / "raw_arrivals.json").read_text())
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_template(text: str, variables: dict[str, str]) -> str:
    """Render a Terraform `templatefile` that only uses `${name}` interpolations.

    A tiny renderer of our own because the ASL must be byte-identical to what Terraform renders
    and no Python library implements Terraform's template language; anything beyond plain
    `${name}` (directives, expressions) is rejected rather than silently misrendered.
    """
    if "%{" in text:
        raise ValueError("template directives (%{...}) are not supported by the local renderer")
    missing = sorted({m for m in _PLACEHOLDER_RE.findall(text) if m not in variables})
    if missing:
        raise KeyError(f"template variables not provided: {', '.join(missing)}")
    rendered = _PLACEHOLDER_RE.sub(lambda m: variables[m.group(1)], text)
    if "${" in rendered:
        raise ValueError("template has an interpolation the local renderer cannot evaluate")
    return rendered


def lambda_environment(
    names: ResourceNames, target: str, dbt_project_dir: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment both dbt runtime functions get: contracts/functions.json's templates
    (Terraform's `templatestring` and `string.Template` read the same `${name}` syntax)."""
    environment = _render(FUNCTIONS_CONTRACT["environment"], names, target, dbt_project_dir)
    return {**environment, **(extra or {})}


def ingest_environment(names: ResourceNames) -> dict[str, str]:
    """The ingest function's environment: nothing of dbt's (contracts/functions.json)."""
    return _render(FUNCTIONS_CONTRACT["ingest_environment"], names, "", "")


def _render(
    templates: dict[str, str], names: ResourceNames, target: str, dbt_project_dir: str
) -> dict[str, str]:
    values = {
        **names.as_dict(),
        "target": target,
        "dbt_project_dir": dbt_project_dir,
        "dbt_artifacts_prefix": DBT_ARTIFACTS_PREFIX,
        "ingest_state_prefix": INGEST_STATE_PREFIX,
    }
    return {key: string.Template(t).substitute(values) for key, t in templates.items()}


@dataclass
class Provisioned:
    names: ResourceNames
    endpoint_url: str
    state_machine_arn: str
    alerts_topic_arn: str
    alerts_queue_url: str
    dbt_executor_arn: str
    test_executor_arn: str
    ingest_arn: str
    # Set when runs start on arrival (provision(start_on_arrival=True)).
    raw_arrivals_queue_url: str | None = None
    ecs_cluster_arn: str = ""
    dbt_task_definition_arn: str = ""

    def airflow_config(self) -> dict[str, str]:
        """The Airflow Variable `lakehouse_config`: contracts/lakehouse_config.json, as Terraform
        writes it on AWS."""
        values = {
            **self.names.as_dict(),
            "pipeline": PIPELINE,
            "state_machine_arn": self.state_machine_arn,
            "alerts_topic_arn": self.alerts_topic_arn,
            "region": REGION,
        }
        return {
            key: string.Template(template).substitute(values)
            for key, template in LAKEHOUSE_CONFIG_CONTRACT["keys"].items()
        }

    def airflow_env(self, endpoint_url: str | None = None) -> dict[str, str]:
        """`endpoint_url`: how Airflow reaches the emulator, if not as the provisioner did
        (e.g. another container)."""
        connection = {
            "conn_type": "aws",
            "login": "local",
            "password": "local",
            "extra": {"region_name": REGION, "endpoint_url": endpoint_url or self.endpoint_url},
        }
        env = {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            "AIRFLOW_VAR_LAKEHOUSE_CONFIG": json.dumps(self.airflow_config()),
        }
        if self.raw_arrivals_queue_url:
            # As Terraform gives MWAA: the option that defines the on-arrival DAG. The emulator
            # names the queue at the address it was asked on; Airflow may reach it at another.
            queue_url = self.raw_arrivals_queue_url
            if endpoint_url:
                path = urlsplit(queue_url).path
                queue_url = endpoint_url.rstrip("/") + path
            env["AIRFLOW__LAKEHOUSE__RAW_ARRIVALS_QUEUE_URL"] = queue_url
        return env


def _ignore_exists(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in {
            "EntityAlreadyExists",
            "AlreadyExistsException",
            "ResourceInUseException",
            "BucketAlreadyOwnedByYou",
            "ResourceConflictException",
            "StateMachineAlreadyExists",
        }:
            return None
        raise


def provision(
    endpoint_url: str,
    environment: str = "local",
    prefix: str = "lakehouse",
    duckdb_path: str = "",
    start_on_arrival: bool = False,
) -> Provisioned:
    """Idempotent: running it again on a provisioned emulator changes nothing.

    `start_on_arrival`: also the raw bucket's notifications to an SQS queue, as Terraform's
    `start_on_arrival` (terraform/modules/arrivals), for the on-arrival DAG.
    """
    names = resource_names(prefix, environment)
    s3 = client("s3", endpoint_url)
    for bucket in (names.raw_bucket, names.curated_bucket, names.query_results_bucket):
        _ignore_exists(s3.create_bucket, Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    ddb = client("dynamodb", endpoint_url)
    _ignore_exists(
        ddb.create_table,
        TableName=names.runs_table,
        BillingMode="PAY_PER_REQUEST",
        **RUNS_TABLE_KEYS,
    )
    ttl = ddb.describe_time_to_live(TableName=names.runs_table)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") != "ENABLED":  # AWS refuses to enable it twice
        ddb.update_time_to_live(
            TableName=names.runs_table,
            TimeToLiveSpecification={
                "Enabled": True,
                "AttributeName": RUN_RECORD_CONTRACT["ttl_attribute"],
            },
        )

    # One role per function, for the state machine and for the crawler, named as on AWS (IAM is
    # not enforced locally; the Athena contract harness checks the Terraform policies).
    iam = client("iam", endpoint_url)
    services = {
        names.dbt_executor_role: "lambda.amazonaws.com",
        names.test_executor_role: "lambda.amazonaws.com",
        names.ingest_role: "lambda.amazonaws.com",
        names.state_machine_role: "states.amazonaws.com",
        names.dbt_task_role: "ecs-tasks.amazonaws.com",
        names.dbt_task_execution_role: "ecs-tasks.amazonaws.com",
        names.crawler_role: "glue.amazonaws.com",
    }
    for role, service in services.items():
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
        _ignore_exists(iam.create_role, RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))

    def role_arn(name: str) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"

    glue = client("glue", endpoint_url)
    for database, location in (
        (names.raw_database, f"s3://{names.raw_bucket}/"),
        (names.crawled_database, f"s3://{names.raw_bucket}/"),
        (names.curated_database, f"s3://{names.curated_bucket}/{names.curated_database}/"),
        (names.elementary_database, f"s3://{names.curated_bucket}/{names.elementary_database}/"),
    ):
        _ignore_exists(
            glue.create_database, DatabaseInput={"Name": database, "LocationUri": location}
        )
    _ignore_exists(
        glue.create_crawler,
        Name=names.raw_crawler,
        Role=role_arn(names.crawler_role),
        # As on AWS (terraform/modules/catalog): the crawler's own database, never the one of
        # the lines tables over the same folders.
        DatabaseName=names.crawled_database,
        Targets={
            "S3Targets": [
                {"Path": f"s3://{names.raw_bucket}/{dataset}/"} for dataset in RAW_DATASETS
            ]
        },
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )

    sns = client("sns", endpoint_url)
    topic_arn = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    sqs = client("sqs", endpoint_url)
    queue_url = sqs.create_queue(QueueName=f"{names.alerts_topic}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(s["Endpoint"] == queue_arn for s in subscriptions):
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )

    lam = client("lambda", endpoint_url)
    dbt_env = lambda_environment(
        names,
        target="local",
        dbt_project_dir=str(DBT_PROJECT_DIR),
        extra={
            key: string.Template(template).substitute(duckdb_path=duckdb_path)
            for key, template in FUNCTIONS_CONTRACT["local_only_environment"].items()
        }
        if duckdb_path
        else None,
    )
    environments = {"dbt": dbt_env, "ingest": ingest_environment(names)}
    arns = {}
    for key, handler in LAMBDA_HANDLERS.items():
        function_name = getattr(names, key)
        function = FUNCTIONS_CONTRACT["functions"][key.removesuffix("_function")]
        settings = dict(
            Role=role_arn(getattr(names, key.replace("_function", "_role"))),
            Handler=handler,
            Timeout=function["timeout_s"],
            MemorySize=function["memory_mb"],
            Environment={"Variables": environments[function["kind"]]},
        )
        try:
            arns[key] = lam.get_function_configuration(FunctionName=function_name)["FunctionArn"]
            lam.update_function_configuration(FunctionName=function_name, **settings)
        except ClientError:
            arns[key] = lam.create_function(
                FunctionName=function_name,
                Runtime="python3.12",
                Code={"ZipFile": _code_marker_zip()},
                **settings,
            )["FunctionArn"]

    ecs = _provision_dbt_task(endpoint_url, names, dbt_env, role_arn)
    definition = render_template(
        ASL_TEMPLATE.read_text(),
        {
            "ingest_arn": arns["ingest_function"],
            "dbt_executor_arn": arns["dbt_executor_function"],
            "test_executor_arn": arns["test_executor_function"],
            "runs_table": names.runs_table,
            "alerts_topic_arn": topic_arn,
            "curated_bucket": names.curated_bucket,
            "ecs_results_prefix": ECS_RESULTS_PREFIX,
            "ecs_cluster_arn": ecs["cluster_arn"],
            "dbt_task_definition_arn": ecs["task_definition_arn"],
            "dbt_task_container": ECS_TASK["container"],
            "ecs_subnet_ids": ",".join(ecs["subnet_ids"]),
            "ecs_security_group_ids": ",".join(ecs["security_group_ids"]),
        },
    )
    sfn = client("stepfunctions", endpoint_url)
    state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{names.state_machine}"
    try:
        sfn.describe_state_machine(stateMachineArn=state_machine_arn)
        sfn.update_state_machine(
            stateMachineArn=state_machine_arn,
            definition=definition,
            roleArn=role_arn(names.state_machine_role),
        )
    except ClientError:
        state_machine_arn = sfn.create_state_machine(
            name=names.state_machine,
            definition=definition,
            roleArn=role_arn(names.state_machine_role),
        )["stateMachineArn"]

    return Provisioned(
        raw_arrivals_queue_url=(raw_arrivals(endpoint_url, names) if start_on_arrival else None),
        names=names,
        endpoint_url=endpoint_url,
        state_machine_arn=state_machine_arn,
        alerts_topic_arn=topic_arn,
        alerts_queue_url=queue_url,
        dbt_executor_arn=arns["dbt_executor_function"],
        test_executor_arn=arns["test_executor_function"],
        ingest_arn=arns["ingest_function"],
        ecs_cluster_arn=ecs["cluster_arn"],
        dbt_task_definition_arn=ecs["task_definition_arn"],
    )


def raw_arrivals(endpoint_url: str, names: ResourceNames) -> str:
    """The queue (and its DLQ) the raw bucket announces new files of each dataset to, with the
    notification and the queue policy of terraform/modules/arrivals; its URL."""
    settings = RAW_ARRIVALS_CONTRACT["queue"]
    sqs = client("sqs", endpoint_url)
    dlq_url = sqs.create_queue(QueueName=names.raw_arrivals_dlq)["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=names.raw_arrivals_queue)["QueueUrl"]
    dlq_arn, queue_arn = (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for url in (dlq_url, queue_url)
    )
    bucket_arn = f"arn:aws:s3:::{names.raw_bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RawBucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                },
            }
        ],
    }
    # set_queue_attributes, not create_queue's: create_queue refuses other attributes for an
    # existing queue, and provisioning runs again on a provisioned stack.
    sqs.set_queue_attributes(
        QueueUrl=dlq_url,
        Attributes={
            "SqsManagedSseEnabled": "true",
            "MessageRetentionPeriod": str(
                RAW_ARRIVALS_CONTRACT["dead_letter_queue"]["message_retention_seconds"]
            ),
        },
    )
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "SqsManagedSseEnabled": "true",
            "VisibilityTimeout": str(settings["visibility_timeout_seconds"]),
            "MessageRetentionPeriod": str(settings["message_retention_seconds"]),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings["max_receive_count"]}
            ),
            "Policy": json.dumps(policy),
        },
    )
    client("s3", endpoint_url).put_bucket_notification_configuration(
        Bucket=names.raw_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": f"raw-arrivals-{dataset}",
                    "QueueArn": queue_arn,
                    "Events": RAW_ARRIVALS_CONTRACT["events"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": f"{dataset}/"}]}
                    },
                }
                for dataset in RAW_DATASETS
            ]
        },
    )
    return queue_url


def dbt_task_definition(names: ResourceNames, environment: dict[str, str], role_arn) -> dict:
    """RegisterTaskDefinition's arguments: the dbt-executor's image, environment and entry point
    (contracts/functions.json ecs_task), as terraform/modules/workflow declares it."""
    return {
        "family": names.dbt_task_family,
        "taskRoleArn": role_arn(names.dbt_task_role),
        "executionRoleArn": role_arn(names.dbt_task_execution_role),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(ECS_TASK["cpu"]),
        "memory": str(ECS_TASK["memory_mb"]),
        "containerDefinitions": [
            {
                "name": ECS_TASK["container"],
                # The local seam (local/ecs_runner.py) runs lambdas/ from the repository.
                "image": "local/dbt-runtime:latest",
                "essential": True,
                # The one container has all of the task's CPU and memory.
                "cpu": ECS_TASK["cpu"],
                "memory": ECS_TASK["memory_mb"],
                "entryPoint": ECS_TASK["entry_point"],
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            }
        ],
    }


def _provision_dbt_task(endpoint_url: str, names: ResourceNames, environment, role_arn) -> dict:
    """The cluster, the task definition and the network a Fargate task needs. moto's RunTask
    attaches a network interface in the task's subnet, so the subnet and its security group
    exist here too (on AWS: the environment's private subnets, a security group of the module)."""
    ec2 = client("ec2", endpoint_url)
    tag = [{"Name": "tag:Name", "Values": [names.ecs_cluster]}]
    vpcs = ec2.describe_vpcs(Filters=tag)["Vpcs"]
    if vpcs:
        vpc_id = vpcs[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": names.ecs_cluster}])
    subnets = ec2.describe_subnets(Filters=[*tag, {"Name": "vpc-id", "Values": [vpc_id]}])
    if subnets["Subnets"]:
        subnet_id = subnets["Subnets"][0]["SubnetId"]
    else:
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": "Name", "Value": names.ecs_cluster}])
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": [names.dbt_task_family]},
            {"Name": "vpc-id", "Values": [vpc_id]},
        ]
    )["SecurityGroups"]
    group_id = (
        groups[0]["GroupId"]
        if groups
        else ec2.create_security_group(
            GroupName=names.dbt_task_family,
            Description="dbt runtime tasks: outbound only",
            VpcId=vpc_id,
        )["GroupId"]
    )

    ecs = client("ecs", endpoint_url)
    cluster_arn = ecs.create_cluster(clusterName=names.ecs_cluster)["cluster"]["clusterArn"]
    wanted = dbt_task_definition(names, environment, role_arn)
    try:
        current = ecs.describe_task_definition(taskDefinition=names.dbt_task_family)
        current = current["taskDefinition"]
    except ClientError:
        current = None
    if current is None or any(
        _comparable(key, current.get(key)) != _comparable(key, value)
        for key, value in wanted.items()
    ):
        ecs.register_task_definition(**wanted)
    return {
        "cluster_arn": cluster_arn,
        # Without a revision: RunTask takes the family's latest, as on AWS.
        "task_definition_arn": (
            f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{names.dbt_task_family}"
        ),
        "subnet_ids": [subnet_id],
        "security_group_ids": [group_id],
    }


def _comparable(key: str, value):
    """A task definition's setting as both RegisterTaskDefinition and its description hold it."""
    if key != "containerDefinitions" or not value:
        return value
    keys = ("name", "image", "essential", "cpu", "memory", "entryPoint", "environment")
    return [
        {
            k: sorted(map(json.dumps, c.get(k) or [])) if k == "environment" else c.get(k)
            for k in keys
        }
        for c in value
    ]


def _code_marker_zip() -> bytes:
    """The control plane needs a code package; the runner executes lambdas/ from the repo."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Local stack: code runs from the repository's lambdas/.\n")
    return buffer.getvalue()
