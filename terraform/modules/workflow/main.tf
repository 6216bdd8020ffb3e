data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  glue_arn   = "arn:${local.partition}:glue:${local.region}:${local.account_id}"

  # Where the dbt-executor keeps each dbt invocation's artifacts for the test-executor, which
  # records them in Elementary's tables (contracts/functions.json), and the
  # digest of the raw objects each run parsed, which a redrive reads (dbt_runtime.raw_inputs).
  # The test-executor keeps its own `dbt test`'s artifacts there too, then records the
  # execution's from there: without PutObject it failed on AWS at its first run (found by the
  # contract harness, which checks the handlers' own calls against this policy).
  # Only the test-executor reads invocations back; the parse records under `parses/` are the
  # dbt-executor's alone (found by tests/integration/test_s3_least_privilege.py: either
  # function could read, and the test-executor write, what is the other's).
  dbt_artifacts_prefix = local.contract.dbt_artifacts_prefix
  dbt_artifacts_access = {
    dbt_executor  = ["s3:PutObject"]
    test_executor = ["s3:PutObject", "s3:GetObject"]
  }

  # ONE dbt runtime image; each function selects its handler through image_config.command.
  image_uri = coalesce(var.image_uri, "${aws_ecr_repository.this.repository_url}:${var.image_tag}")

  # The functions' handlers, memory, timeout and environment: contracts/functions.json, which
  # the local provisioner reads too.
  contract = jsondecode(file("${path.module}/../../../contracts/functions.json"))
  roles = {
    dbt_executor  = var.names.dbt_executor_role
    test_executor = var.names.test_executor_role
    ingest        = var.names.ingest_role
  }
  function_names = {
    dbt_executor  = var.names.dbt_executor_function
    test_executor = var.names.test_executor_function
    ingest        = var.names.ingest_function
  }
  functions = {
    for key, function in local.contract.functions : key => merge(function, {
      name      = local.function_names[key]
      role      = local.roles[key]
      memory_mb = coalesce(var.memory_size, function.memory_mb)
    })
  }
  # The dbt role policies below are for these only: the ingest function has a role of its own
  # that reaches the raw zone and its sources' secrets, never Athena, Glue or the curated zone.
  dbt_functions = { for key, function in local.functions : key => function if function.kind == "dbt" }

  # The API sources (contracts/sources.json, which the ingest function reads from the image):
  # the raw datasets it may write, and one secret per enabled source that authenticates.
  sources_contract    = jsondecode(file("${path.module}/../../../contracts/sources.json"))
  raw_datasets        = sort(keys(local.sources_contract.datasets))
  ingest_state_prefix = local.contract.ingest_state_prefix
  # The objects the ingest function may create in the raw datasets: the pages of the enabled
  # sources alone (contracts/functions.json's ingest_landed_prefix, any day). A raw object
  # that another source or an upstream drop delivered stays out of its reach.
  ingest_page_keys = sort([
    for name, source in local.sources_contract.sources :
    "${templatestring(local.contract.ingest_landed_prefix, { dataset = source.dataset, day = "*", source = name })}*"
    if try(source.enabled, false)
  ])
  source_secrets = {
    for name, source in local.sources_contract.sources : name => "${var.names.source_secrets_prefix}${name}"
    if try(source.enabled, false) && try(source.auth.type, "none") != "none"
  }

  # The values the environment's templates name.
  environment_values = {
    target               = "athena"
    dbt_project_dir      = "/var/task/dbt_project" # the image's LAMBDA_TASK_ROOT (lambdas/Dockerfile)
    dbt_artifacts_prefix = local.dbt_artifacts_prefix
    raw_bucket           = var.storage.buckets["raw"].id
    curated_bucket       = var.storage.buckets["curated"].id
    query_results_bucket = var.storage.buckets["query_results"].id
    raw_database         = var.databases["raw"].name
    curated_database     = var.databases["curated"].name
    elementary_database  = var.databases["elementary"].name
    runs_table           = var.runs_table.name
    athena_workgroup     = var.workgroup.name
    ingest_state_prefix  = local.ingest_state_prefix
    # An API source's secret is this plus its name: one secret per source and environment.
    source_secrets_prefix = var.names.source_secrets_prefix
  }
  environment_templates = {
    dbt    = merge(local.contract.environment, local.contract.aws_only_environment)
    ingest = local.contract.ingest_environment
  }
  lambda_environment = {
    for function_key, function in local.functions : function_key => {
      for key, template in local.environment_templates[function.kind] :
      key => templatestring(template, local.environment_values)
    }
  }
}

################################################################################
# ECR repository of the dbt runtime image
################################################################################

resource "aws_ecr_repository" "this" {
  name                 = var.names.ecr_repository
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete
  tags                 = var.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.storage.kms_key.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 30 most recent images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 30
      }
      action = { type = "expire" }
    }]
  })
}

data "aws_iam_policy_document" "ecr" {
  statement {
    sid     = "LambdaPullImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for f in local.functions : "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${f.name}"]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.ecr.json
}

################################################################################
# The runtime's functions: one image, three handlers, one role each
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name               = each.value.role
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.storage.kms_key.arn
  tags              = var.tags
}

# What both dbt functions need: logs, traces, Athena in the workgroup, read raw, query results, key.
data "aws_iam_policy_document" "lambda_common" {
  for_each = local.dbt_functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }

  # X-Ray's put actions support no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid = "AthenaWorkgroup"
    actions = [
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:GetQueryRuntimeStatistics",
      "athena:GetWorkGroup",
    ]
    resources = [var.workgroup.arn]
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [var.storage.buckets["raw"].arn, var.storage.buckets["curated"].arn, var.storage.buckets["query_results"].arn]
  }

  statement {
    sid       = "ReadRaw"
    actions   = ["s3:GetObject"]
    resources = ["${var.storage.buckets["raw"].arn}/*"]
  }

  statement {
    sid       = "QueryResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.storage.buckets["query_results"].arn}/*"]
  }

  statement {
    sid = "ReadCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetDatabases",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
    ]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${var.databases["raw"].name}",
      "${local.glue_arn}:database/${var.databases["curated"].name}",
      "${local.glue_arn}:database/${var.databases["elementary"].name}",
      "${local.glue_arn}:table/${var.databases["raw"].name}/*",
      "${local.glue_arn}:table/${var.databases["curated"].name}/*",
      "${local.glue_arn}:table/${var.databases["elementary"].name}/*",
    ]
  }

  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.storage.kms_key.arn]
  }
}

locals {
  # The database each function writes, and the prefix of the curated bucket holding its data.
  writes = {
    dbt_executor  = var.databases["curated"].name
    test_executor = var.databases["elementary"].name
  }
  # The dbt-executor's parse records (dbt_runtime.raw_inputs._location: parses/<run key>.json).
  dbt_parses_arn = "${var.storage.buckets["curated"].arn}/${local.dbt_artifacts_prefix}/parses/*"
  # The test-executor's data-quality reports (dbt_runtime.artifacts.report_location), which
  # the Airflow view serves (the MWAA role reads them: terraform/modules/orchestration).
  dbt_reports_arn = "${var.storage.buckets["curated"].arn}/${local.dbt_artifacts_prefix}/${local.contract.reports_prefix}/*"
}

data "aws_iam_policy_document" "lambda" {
  for_each = local.dbt_functions

  source_policy_documents = [data.aws_iam_policy_document.lambda_common[each.key].json]

  statement {
    sid       = "ReadCurated"
    actions   = ["s3:GetObject"]
    resources = ["${var.storage.buckets["curated"].arn}/${var.databases["curated"].name}/*", "${var.storage.buckets["curated"].arn}/${local.writes[each.key]}/*"]
  }

  statement {
    sid       = "WriteOwnPrefix"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.storage.buckets["curated"].arn}/${local.writes[each.key]}/*"]
  }

  # The dbt-executor's marts stage holds a lease item in the run ledger (dbt_runtime.merge_lock,
  # dbt_runtime.lease).
  dynamic "statement" {
    for_each = each.key == "dbt_executor" ? [1] : []
    content {
      sid       = "MartsLock"
      actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]
      resources = [var.runs_table.arn]
    }
  }

  statement {
    sid       = "DbtArtifacts"
    actions   = local.dbt_artifacts_access[each.key]
    resources = ["${var.storage.buckets["curated"].arn}/${local.dbt_artifacts_prefix}/*"]
  }

  # A redrive reads the parse record its run's staging stage wrote.
  dynamic "statement" {
    for_each = each.key == "dbt_executor" ? [1] : []
    content {
      sid       = "ReadOwnParses"
      actions   = ["s3:GetObject"]
      resources = [local.dbt_parses_arn]
    }
  }

  # The reports are the test-executor's: the dbt-executor, which may write invocations beside
  # them, cannot put a page the Airflow view would serve.
  dynamic "statement" {
    for_each = each.key == "dbt_executor" ? [1] : []
    content {
      sid       = "NotTheReports"
      effect    = "Deny"
      actions   = ["s3:PutObject", "s3:DeleteObject"]
      resources = [local.dbt_reports_arn]
    }
  }

  # Within the prefix it writes, the test-executor must not touch the parse records: a
  # redrive trusts them to skip staging.
  dynamic "statement" {
    for_each = each.key == "test_executor" ? [1] : []
    content {
      sid       = "NotTheParses"
      effect    = "Deny"
      actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
      resources = [local.dbt_parses_arn]
    }
  }

  statement {
    sid = "WriteOwnDatabase"
    actions = [
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:DeleteTable",
      "glue:BatchDeleteTable",
      "glue:GetTableVersions",
      "glue:DeleteTableVersion",
      "glue:BatchDeleteTableVersion",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:BatchUpdatePartition",
      "glue:DeletePartition",
      "glue:BatchDeletePartition",
    ]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${local.writes[each.key]}",
      "${local.glue_arn}:table/${local.writes[each.key]}/*",
    ]
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.dbt_functions

  name   = replace(each.key, "_", "-")
  role   = aws_iam_role.lambda[each.key].id
  policy = data.aws_iam_policy_document.lambda[each.key].json
}

################################################################################
# The ingest function's role: the raw datasets' folders and its own state, its sources' secrets
################################################################################

resource "aws_secretsmanager_secret" "source" {
  #checkov:skip=CKV2_AWS_57:The token is issued by the API's owner; it is rotated by putting the new value (docs/runbooks.md), there is no rotation Lambda to call.
  for_each = local.source_secrets

  name        = each.value
  description = "Bearer token of the API source ${each.key} (contracts/sources.json), read by the ingest function"
  kms_key_id  = var.storage.kms_key.arn
  tags        = var.tags
}

data "aws_iam_policy_document" "ingest" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["ingest"].arn}:*"]
  }

  # X-Ray's put actions support no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # Listing is how it finds the pages it staged and the pages a day already has.
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [var.storage.buckets["raw"].arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat([for dataset in local.raw_datasets : "${dataset}/*"], ["${local.ingest_state_prefix}/*"])
    }
  }

  # Its state and staged pages: written, read back, and the staged pages dropped once landed.
  statement {
    sid       = "OwnState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.storage.buckets["raw"].arn}/${local.ingest_state_prefix}/*"]
  }

  # Landing copies a staged page into its day folder (CopyObject: read the stage, write the
  # page). A landed page is read back only to check a rerun would write the same bytes; it is
  # never deleted, and no other raw object can be written.
  dynamic "statement" {
    for_each = length(local.ingest_page_keys) > 0 ? [1] : []
    content {
      sid       = "OwnPages"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = [for key in local.ingest_page_keys : "${var.storage.buckets["raw"].arn}/${key}"]
    }
  }

  # One invocation at a time ingests a source-day: a lease item in the run ledger
  # (dbt_runtime.lease, handlers/ingest.py).
  statement {
    sid       = "IngestLease"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]
    resources = [var.runs_table.arn]
  }

  dynamic "statement" {
    for_each = length(local.source_secrets) > 0 ? [1] : []
    content {
      sid       = "SourceSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [for secret in aws_secretsmanager_secret.source : secret.arn]
    }
  }

  # The raw bucket and the secrets are encrypted with the CMK.
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.storage.kms_key.arn]
  }
}

resource "aws_iam_role_policy" "ingest" {
  name   = "ingest"
  role   = aws_iam_role.lambda["ingest"].id
  policy = data.aws_iam_policy_document.ingest.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and catches errors; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Talks only to AWS public endpoints (Athena, Glue, S3); a VPC adds NAT cost and no isolation for these calls.
  #checkov:skip=CKV_AWS_272:Code signing is not supported for container image functions; images are scanned on push and tags are immutable.
  for_each = local.functions

  function_name                  = each.value.name
  description                    = each.value.description
  role                           = aws_iam_role.lambda[each.key].arn
  package_type                   = "Image"
  image_uri                      = local.image_uri
  architectures                  = ["x86_64"]
  timeout                        = each.value.timeout_s
  memory_size                    = each.value.memory_mb
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.storage.kms_key.arn
  tags                           = var.tags

  image_config {
    command = [each.value.handler]
  }

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  environment {
    variables = local.lambda_environment[each.key]
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda, aws_iam_role_policy.ingest]
}

################################################################################
# Step Functions state machine (the same ASL template as the local stack)
################################################################################

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "states" {
  name               = var.names.state_machine_role
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "states" {
  statement {
    sid       = "InvokeDbtRuntime"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for f in aws_lambda_function.this : [f.arn, "${f.arn}:*"]])
  }

  statement {
    sid       = "RecordRunLedger"
    actions   = ["dynamodb:UpdateItem"]
    resources = [var.runs_table.arn]
  }

  # compute=ecs: run the dbt task (any revision of its family) on the cluster, wait for it
  # (.sync describes it, and stops it when the state times out), hand it its roles.
  statement {
    sid       = "RunDbtTask"
    actions   = ["ecs:RunTask"]
    resources = ["${aws_ecs_task_definition.dbt.arn_without_revision}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "WatchDbtTask"
    actions   = ["ecs:StopTask", "ecs:DescribeTasks"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${aws_ecs_cluster.this.name}/*"]
  }

  statement {
    sid       = "PassDbtTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [for role in aws_iam_role.dbt_task : role.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # .sync on ECS learns that a task stopped through this managed EventBridge rule.
  statement {
    sid       = "EcsSyncRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForECSTaskRule"]
  }

  # What a task wrote: its stage's result or its error.
  statement {
    sid       = "ReadDbtTaskResults"
    actions   = ["s3:GetObject"]
    resources = [local.ecs_results_arn]
  }

  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [var.alerts_topic.arn]
  }

  # The table and the topic are encrypted with the CMK.
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage.kms_key.arn]
  }

  # CloudWatch Logs delivery actions support no resource-level permissions: "*" is required.
  statement {
    sid = "LogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # X-Ray's put/sampling actions support no resource-level permissions: "*" is required.
  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "states" {
  name   = "state-machine"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states.json
}

resource "aws_cloudwatch_log_group" "states" {
  name              = var.names.state_machine_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.storage.kms_key.arn
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  name     = var.names.state_machine
  role_arn = aws_iam_role.states.arn
  type     = "STANDARD"
  tags     = var.tags

  # The one ASL template, also rendered by local/provision.py; exactly these variables.
  definition = templatefile("${path.module}/state_machine.asl.json", {
    ingest_arn              = aws_lambda_function.this["ingest"].arn
    dbt_executor_arn        = aws_lambda_function.this["dbt_executor"].arn
    test_executor_arn       = aws_lambda_function.this["test_executor"].arn
    runs_table              = var.runs_table.name
    alerts_topic_arn        = var.alerts_topic.arn
    curated_bucket          = var.storage.buckets["curated"].id
    ecs_results_prefix      = local.ecs_results_prefix
    ecs_cluster_arn         = aws_ecs_cluster.this.arn
    dbt_task_definition_arn = aws_ecs_task_definition.dbt.arn_without_revision
    dbt_task_container      = local.ecs_task.container
    ecs_subnet_ids          = join(",", var.network.subnet_ids)
    ecs_security_group_ids  = aws_security_group.dbt_task.id
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.states.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.states]
}

################################################################################
# The dbt-executor as an ECS Fargate task (contracts/functions.json ecs_task): same image and
# environment, no 15-minute cap. The state machine runs it when the run plan says compute=ecs.
################################################################################

locals {
  ecs_task = local.contract.ecs_task
  # Where a task writes its stage's result (or error) for the state machine to read.
  ecs_results_prefix = "${local.dbt_artifacts_prefix}/${local.ecs_task.results_prefix}"
  ecs_results_arn    = "${var.storage.buckets["curated"].arn}/${local.ecs_results_prefix}/*"
  ecs_task_roles = {
    task      = var.names.dbt_task_role
    execution = var.names.dbt_task_execution_role
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.names.ecs_cluster
  tags = var.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "dbt_task" {
  name              = var.names.dbt_task_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.storage.kms_key.arn
  tags              = var.tags
}

# Outbound only: Athena, Glue, S3 and DynamoDB endpoints (through the VPC's NAT or endpoints).
resource "aws_security_group" "dbt_task" {
  #checkov:skip=CKV2_AWS_5:Attached to each task at run time: the state machine passes it in RunTask's network configuration.
  name        = var.names.dbt_task_family
  description = "dbt runtime ECS tasks: HTTPS out to AWS APIs, nothing in"
  vpc_id      = var.network.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS service endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "dbt_task" {
  for_each = local.ecs_task_roles

  name               = each.value
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

# The task does what the dbt-executor does, so its role has exactly the dbt-executor's policy
# (its result under dbt_artifacts/ is within the DbtArtifacts grant), plus its own log group.
resource "aws_iam_role_policy" "dbt_task" {
  name   = "dbt-executor"
  role   = aws_iam_role.dbt_task["task"].id
  policy = data.aws_iam_policy_document.lambda["dbt_executor"].json
}

# What ECS needs to start the container: pull the image (KMS-encrypted repository), write logs.
data "aws_iam_policy_document" "dbt_task_execution" {
  # GetAuthorizationToken supports no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.this.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dbt_task.arn}:*"]
  }

  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt"]
    resources = [var.storage.kms_key.arn]
  }
}

resource "aws_iam_role_policy" "dbt_task_execution" {
  name   = "ecs-task-execution"
  role   = aws_iam_role.dbt_task["execution"].id
  policy = data.aws_iam_policy_document.dbt_task_execution.json
}

resource "aws_ecs_task_definition" "dbt" {
  family                   = var.names.dbt_task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.ecs_task.cpu
  memory                   = local.ecs_task.memory_mb
  task_role_arn            = aws_iam_role.dbt_task["task"].arn
  execution_role_arn       = aws_iam_role.dbt_task["execution"].arn
  tags                     = var.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # A read-only root as on Lambda; dbt's project copy, target and logs go to /tmp.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = local.ecs_task.container
    image                  = local.image_uri
    essential              = true
    cpu                    = local.ecs_task.cpu
    memory                 = local.ecs_task.memory_mb
    entryPoint             = local.ecs_task.entry_point
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [
      for key in sort(keys(local.lambda_environment["dbt_executor"])) :
      { name = key, value = local.lambda_environment["dbt_executor"][key] }
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.dbt_task.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "dbt"
      }
    }
  }])

  depends_on = [aws_iam_role_policy.dbt_task, aws_iam_role_policy.dbt_task_execution]
}
