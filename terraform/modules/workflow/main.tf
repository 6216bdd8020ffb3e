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
  source_secrets = {
    for name, source in local.sources_contract.sources : name => source.auth.secret_name
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

  # The dbt-executor's marts stage holds a lease item in the run ledger (dbt_runtime.merge_lock).
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

  # Landing copies a staged page into its day folder: read the stage, write the day. A landed
  # page is read back only to check a rerun would write the same bytes; it is never deleted.
  statement {
    sid     = "RawDatasetsAndState"
    actions = ["s3:GetObject", "s3:PutObject"]
    resources = concat(
      [for dataset in local.raw_datasets : "${var.storage.buckets["raw"].arn}/${dataset}/*"],
      ["${var.storage.buckets["raw"].arn}/${local.ingest_state_prefix}/*"],
    )
  }

  statement {
    sid       = "DropStagedPages"
    actions   = ["s3:DeleteObject"]
    resources = ["${var.storage.buckets["raw"].arn}/${local.ingest_state_prefix}/*"]
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

  # The one ASL template, also rendered by local/provision.py; exactly these five variables.
  definition = templatefile("${path.module}/state_machine.asl.json", {
    ingest_arn        = aws_lambda_function.this["ingest"].arn
    dbt_executor_arn  = aws_lambda_function.this["dbt_executor"].arn
    test_executor_arn = aws_lambda_function.this["test_executor"].arn
    runs_table        = var.runs_table.name
    alerts_topic_arn  = var.alerts_topic.arn
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
