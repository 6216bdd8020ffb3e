mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

override_resource {
  target          = aws_lambda_function.this["dbt_executor"]
  override_during = plan
  values = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-dbt-executor"
  }
}

override_resource {
  target          = aws_lambda_function.this["test_executor"]
  override_during = plan
  values = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-test-executor"
  }
}

override_resource {
  target          = aws_lambda_function.this["ingest"]
  override_during = plan
  values = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-ingest"
  }
}

override_resource {
  target          = aws_ecr_repository.this
  override_during = plan
  values = {
    repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lakehouse-test-dbt-runtime"
  }
}

override_resource {
  target          = aws_ecs_cluster.this
  override_during = plan
  values = {
    arn = "arn:aws:ecs:us-east-1:123456789012:cluster/lakehouse-test"
  }
}

override_resource {
  target          = aws_ecs_task_definition.dbt
  override_during = plan
  values = {
    arn                  = "arn:aws:ecs:us-east-1:123456789012:task-definition/lakehouse-test-dbt-task:1"
    arn_without_revision = "arn:aws:ecs:us-east-1:123456789012:task-definition/lakehouse-test-dbt-task"
  }
}

override_resource {
  target          = aws_security_group.dbt_task
  override_during = plan
  values = {
    id = "sg-0dbt"
  }
}

variables {
  names = {
    source_secrets_prefix   = "lakehouse-test/sources/"
    dbt_executor_function   = "lakehouse-test-dbt-executor"
    test_executor_function  = "lakehouse-test-test-executor"
    dbt_executor_role       = "lakehouse-test-lambda-dbt-executor"
    test_executor_role      = "lakehouse-test-lambda-test-executor"
    ingest_function         = "lakehouse-test-ingest"
    ingest_role             = "lakehouse-test-lambda-ingest"
    state_machine           = "lakehouse-test-lakehouse-raw-to-curated"
    state_machine_role      = "lakehouse-test-states"
    state_machine_log_group = "/aws/vendedlogs/states/lakehouse-test-lakehouse-raw-to-curated"
    ecr_repository          = "lakehouse-test-dbt-runtime"
    ecs_cluster             = "lakehouse-test"
    dbt_task_family         = "lakehouse-test-dbt-task"
    dbt_task_role           = "lakehouse-test-ecs-dbt-task"
    dbt_task_execution_role = "lakehouse-test-ecs-dbt-execution"
    dbt_task_log_group      = "/ecs/lakehouse-test-dbt-task"
  }
  network = {
    vpc_id     = "vpc-0123"
    subnet_ids = ["subnet-a", "subnet-b"]
  }
  image_tag = "1.2.3"
  storage = {
    buckets = {
      raw           = { id = "lakehouse-test-raw", arn = "arn:aws:s3:::lakehouse-test-raw" }
      curated       = { id = "lakehouse-test-curated", arn = "arn:aws:s3:::lakehouse-test-curated" }
      query_results = { id = "lakehouse-test-query-results", arn = "arn:aws:s3:::lakehouse-test-query-results" }
    }
    kms_key = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  databases = {
    raw        = { name = "lakehouse_test_raw" }
    curated    = { name = "lakehouse_test_curated" }
    elementary = { name = "lakehouse_test_elementary" }
  }
  workgroup    = { name = "lakehouse-test", arn = "arn:aws:athena:us-east-1:123456789012:workgroup/lakehouse-test" }
  runs_table   = { name = "lakehouse-test-runs", arn = "arn:aws:dynamodb:us-east-1:123456789012:table/lakehouse-test-runs" }
  alerts_topic = { arn = "arn:aws:sns:us-east-1:123456789012:lakehouse-test-alerts" }
}

run "one_image_three_handlers" {
  command = plan

  assert {
    condition     = toset([for f in aws_lambda_function.this : f.image_uri]) == toset(["123456789012.dkr.ecr.us-east-1.amazonaws.com/lakehouse-test-dbt-runtime:1.2.3"])
    error_message = "every function runs the one runtime image"
  }

  assert {
    condition     = aws_lambda_function.this["dbt_executor"].image_config[0].command == tolist(["dbt_runtime.handlers.dbt_executor.handler"])
    error_message = "dbt-executor handler set through image_config.command"
  }

  assert {
    condition     = aws_lambda_function.this["test_executor"].image_config[0].command == tolist(["dbt_runtime.handlers.test_executor.handler"])
    error_message = "test-executor handler set through image_config.command"
  }

  assert {
    condition     = aws_lambda_function.this["ingest"].image_config[0].command == tolist(["dbt_runtime.handlers.ingest.handler"]) && aws_lambda_function.this["ingest"].memory_size == 1024
    error_message = "ingest handler set through image_config.command, the contract's memory"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.timeout == 900 && f.tracing_config[0].mode == "Active" && f.package_type == "Image"])
    error_message = "timeout 900, X-Ray Active, image package"
  }

  assert {
    condition     = aws_iam_role.lambda["dbt_executor"].name == "lakehouse-test-lambda-dbt-executor" && aws_iam_role.lambda["test_executor"].name == "lakehouse-test-lambda-test-executor" && aws_iam_role.lambda["ingest"].name == "lakehouse-test-lambda-ingest"
    error_message = "each function has its own role"
  }

  assert {
    condition = (
      contains(one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.resources if s.sid == "WriteOwnDatabase"]), "arn:aws:glue:us-east-1:123456789012:table/lakehouse_test_curated/*") &&
      !contains(one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.resources if s.sid == "WriteOwnDatabase"]), "arn:aws:glue:us-east-1:123456789012:table/lakehouse_test_elementary/*") &&
      contains(one([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s.resources if s.sid == "WriteOwnDatabase"]), "arn:aws:glue:us-east-1:123456789012:table/lakehouse_test_elementary/*") &&
      !contains(one([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s.resources if s.sid == "WriteOwnDatabase"]), "arn:aws:glue:us-east-1:123456789012:table/lakehouse_test_curated/*")
    )
    error_message = "dbt-executor writes only the curated database, test-executor only Elementary's"
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.actions if s.sid == "DbtArtifacts"]) == toset(["s3:PutObject"]) &&
      one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.resources if s.sid == "ReadOwnParses"]) == toset(["arn:aws:s3:::lakehouse-test-curated/dbt_artifacts/parses/*"]) &&
      one([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s.actions if s.sid == "DbtArtifacts"]) == toset(["s3:PutObject", "s3:GetObject"]) &&
      one([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s.resources if s.sid == "DbtArtifacts"]) == toset(["arn:aws:s3:::lakehouse-test-curated/dbt_artifacts/*"]) &&
      one([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s.effect if s.sid == "NotTheParses"]) == "Deny" &&
      length([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s if s.sid == "ReadOwnParses"]) == 0
    )
    error_message = "the dbt-executor writes the dbt artifacts and reads its runs' raw digests (parses/), the test-executor reads the artifacts and writes its own, never the parses"
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.lambda_common["dbt_executor"].statement : s.resources if s.sid == "ListBuckets"]) == toset(["arn:aws:s3:::lakehouse-test-raw", "arn:aws:s3:::lakehouse-test-curated", "arn:aws:s3:::lakehouse-test-query-results"]) &&
      one([for s in data.aws_iam_policy_document.lambda_common["dbt_executor"].statement : s.resources if s.sid == "AthenaWorkgroup"]) == toset([var.workgroup.arn]) &&
      one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.resources if s.sid == "MartsLock"]) == toset([var.runs_table.arn])
    )
    error_message = "the policies name the buckets, the workgroup and the run ledger by the ARNs their modules give"
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.lambda["dbt_executor"].statement : s.actions if s.sid == "MartsLock"]) == toset(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]) &&
      length([for s in data.aws_iam_policy_document.lambda["test_executor"].statement : s if s.sid == "MartsLock"]) == 0
    )
    error_message = "only the dbt-executor holds the marts lease, on the run ledger's table"
  }

  assert {
    condition = (
      toset(keys(data.aws_iam_policy_document.lambda)) == toset(["dbt_executor", "test_executor"]) &&
      toset(keys(data.aws_iam_policy_document.lambda_common)) == toset(["dbt_executor", "test_executor"]) &&
      aws_iam_role_policy.ingest.name == "ingest"
    )
    error_message = "the dbt policies (Athena, Glue, curated) are the dbt functions' only; the ingest role has its own"
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.ingest.statement : s.resources if s.sid == "OwnState"]) == toset(["arn:aws:s3:::lakehouse-test-raw/_ingest/*"]) &&
      one([for s in data.aws_iam_policy_document.ingest.statement : s.actions if s.sid == "OwnState"]) == toset(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) &&
      length([for s in data.aws_iam_policy_document.ingest.statement : s if s.sid == "OwnPages"]) == 0 &&
      toset(flatten([for s in data.aws_iam_policy_document.ingest.statement : [for c in s.condition : tolist(c.values)] if s.sid == "ListOwnPrefixes"])) == toset(["events/*", "users/*", "_ingest/*"]) &&
      one([for s in data.aws_iam_policy_document.ingest.statement : s.resources if s.sid == "IngestLease"]) == toset([var.runs_table.arn]) &&
      length([for s in data.aws_iam_policy_document.ingest.statement : s if s.sid == "SourceSecrets"]) == 0 &&
      length(aws_secretsmanager_secret.source) == 0
    )
    error_message = "the ingest role: its state (Delete there only), List limited to the datasets' and its state's prefixes, its lease in the run ledger; no raw page to write and no secret while no source is enabled"
  }

  assert {
    condition = aws_lambda_function.this["ingest"].environment[0].variables == tomap({
      RAW_BUCKET              = "lakehouse-test-raw"
      INGEST_STATE_PREFIX     = "_ingest"
      RUNS_TABLE              = "lakehouse-test-runs"
      SOURCE_SECRETS_PREFIX   = "lakehouse-test/sources/"
      POWERTOOLS_SERVICE_NAME = "lakehouse-ingest"
      POWERTOOLS_LOG_LEVEL    = "INFO"
    })
    error_message = "the ingest function gets its own environment, nothing of dbt's (the run ledger: its source-day lease; its sources' secrets: the environment's prefix)"
  }

  assert {
    condition = alltrue([for k, f in aws_lambda_function.this : f.environment[0].variables == tomap({
      DBT_TARGET              = "athena"
      DBT_PROJECT_DIR         = "/var/task/dbt_project"
      RAW_BUCKET              = "lakehouse-test-raw"
      CURATED_BUCKET          = "lakehouse-test-curated"
      RAW_DATABASE            = "lakehouse_test_raw"
      CURATED_DATABASE        = "lakehouse_test_curated"
      ELEMENTARY_DATABASE     = "lakehouse_test_elementary"
      ATHENA_RESULTS_S3       = "s3://lakehouse-test-query-results/"
      DBT_ARTIFACTS_S3        = "s3://lakehouse-test-curated/dbt_artifacts/"
      ATHENA_WORKGROUP        = "lakehouse-test"
      RUNS_TABLE              = "lakehouse-test-runs"
      POWERTOOLS_SERVICE_NAME = "lakehouse-dbt-runtime"
      POWERTOOLS_LOG_LEVEL    = "INFO"
    }) if k != "ingest"])
    error_message = "both dbt functions get the dbt runtime's environment contract"
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.lambda : g.retention_in_days == 365 && g.kms_key_id == var.storage.kms_key.arn])
    error_message = "Lambda log groups have retention and the CMK"
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push && aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS"
    error_message = "ECR: immutable tags, scan on push, KMS"
  }
}

run "state_machine_renders_the_asl_template" {
  command = plan

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.DbtStaging.Parameters.FunctionName == "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-dbt-executor"
    error_message = "dbt stages invoke the dbt-executor"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Ingest.Parameters.FunctionName == "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-ingest"
    error_message = "the ingest stage invokes the ingest function"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.DbtTests.Parameters.FunctionName == "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-test-executor"
    error_message = "the tests stage invokes the test-executor"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.RecordFailure.Parameters.TableName == "lakehouse-test-runs"
    error_message = "the ledger table is rendered"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.NotifyFailure.Parameters.TopicArn == var.alerts_topic.arn
    error_message = "the alerts topic is rendered"
  }

  assert {
    condition     = aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && aws_sfn_state_machine.this.logging_configuration[0].include_execution_data
    error_message = "logging level ALL with execution data"
  }

  assert {
    condition     = aws_sfn_state_machine.this.tracing_configuration[0].enabled
    error_message = "X-Ray tracing enabled"
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.states.statement : s.actions])) == toset([
      "lambda:InvokeFunction", "dynamodb:UpdateItem", "sns:Publish", "kms:Decrypt", "kms:GenerateDataKey",
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
      "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
      "ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "iam:PassRole",
      "events:PutTargets", "events:PutRule", "events:DescribeRule", "s3:GetObject",
    ])
    error_message = "the state machine role may invoke, run the dbt task, read its result, update the ledger, publish alerts, use the key, log and trace: nothing else"
  }
}

run "dbt_stages_can_run_as_an_ecs_task" {
  command = plan

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.DbtStagingOnEcs.Parameters.TaskDefinition == "arn:aws:ecs:us-east-1:123456789012:task-definition/lakehouse-test-dbt-task" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DbtMartsOnEcs.Parameters.Cluster == "arn:aws:ecs:us-east-1:123456789012:cluster/lakehouse-test" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DbtMartsOnEcs.Parameters.NetworkConfiguration.AwsvpcConfiguration["SecurityGroups.$"] == "States.StringSplit('sg-0dbt', ',')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DbtStagingOnEcs.Parameters.NetworkConfiguration.AwsvpcConfiguration["Subnets.$"] == "States.StringSplit('subnet-a,subnet-b', ',')" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DbtStagingTaskOutcome.Parameters.Bucket == "lakehouse-test-curated"
    )
    error_message = "the ECS states run the module's task definition on its cluster, in the given subnets, and read the result from the curated bucket"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.dbt.container_definitions)[0].image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/lakehouse-test-dbt-runtime:1.2.3" &&
      jsonencode(jsondecode(aws_ecs_task_definition.dbt.container_definitions)[0].entryPoint) == jsonencode(["python", "-m", "dbt_runtime.ecs_task"]) &&
      tomap({ for e in jsondecode(aws_ecs_task_definition.dbt.container_definitions)[0].environment : e.name => e.value }) == aws_lambda_function.this["dbt_executor"].environment[0].variables &&
      aws_ecs_task_definition.dbt.requires_compatibilities == toset(["FARGATE"]) &&
      aws_iam_role.dbt_task["task"].name == "lakehouse-test-ecs-dbt-task" &&
      aws_iam_role.dbt_task["execution"].name == "lakehouse-test-ecs-dbt-execution"
    )
    error_message = "the task runs the functions' image with the dbt-executor's environment, on Fargate, with a task role apart from its execution role"
  }
}

run "image_uri_override" {
  command = plan

  variables {
    image_uri = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/dbt-runtime@sha256:abc"
  }

  assert {
    condition     = aws_lambda_function.this["test_executor"].image_uri == "111111111111.dkr.ecr.eu-west-1.amazonaws.com/dbt-runtime@sha256:abc"
    error_message = "image_uri overrides the repository image"
  }
}

run "requires_the_databases_it_reads_and_writes" {
  command = plan

  variables {
    databases = {
      raw     = { name = "lakehouse_test_raw" }
      curated = { name = "lakehouse_test_curated" }
    }
  }

  expect_failures = [var.databases]
}
