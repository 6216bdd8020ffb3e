data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  bucket_arn = var.storage.buckets["mwaa"].arn
  # Where the test-executor stores the data-quality reports the Lakehouse view serves.
  functions = jsondecode(file("${path.module}/../../../contracts/functions.json"))

  # The state machine's executions: arn:...:execution:<state machine name>:<execution name>.
  executions_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.state_machine.name}:*"

  # The Airflow configuration options come from one file that the local Airflow reads too
  # (mwaa/airflow_configuration.yaml): what every Airflow gets (operators defer by default: the
  # triggerer waits, not a worker; the DAG's max_active_runs) plus what only MWAA gets (Airflow
  # reads Variables and Connections from Secrets Manager: airflow/variables/<key>,
  # airflow/connections/<id>). The module variable overrides any of them.
  airflow_configuration_file = yamldecode(file("${path.module}/../../../mwaa/airflow_configuration.yaml"))
  airflow_configuration_options = merge(
    local.airflow_configuration_file.every_airflow,
    local.airflow_configuration_file.mwaa_only,
    # The DAG defines lakehouse_raw_to_curated_on_arrival only when this option is set.
    var.raw_arrivals_queue == null ? {} : { "lakehouse.raw_arrivals_queue_url" = var.raw_arrivals_queue.url },
    var.airflow_configuration_options,
  )
}

################################################################################
# The Airflow Variable lakehouse_config, served by the secrets backend
################################################################################

resource "aws_secretsmanager_secret" "lakehouse_config" {
  #checkov:skip=CKV2_AWS_57:Holds resource names and ARNs (the DAG's configuration), not a credential: there is nothing to rotate.
  name                    = "airflow/variables/lakehouse_config"
  description             = "Airflow Variable lakehouse_config of ${var.names.mwaa_environment}"
  kms_key_id              = var.storage.kms_key.arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "lakehouse_config" {
  secret_id     = aws_secretsmanager_secret.lakehouse_config.id
  secret_string = jsonencode(var.lakehouse_config)
}

################################################################################
# Execution role
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = var.names.mwaa_execution_role
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PublishMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${var.names.mwaa_environment}"]
  }

  # Its one bucket: DAGs, plugins.zip, requirements.txt (the actions MWAA documents).
  statement {
    sid       = "ReadSourceBucket"
    actions   = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]
  }

  statement {
    sid       = "NoBucketListing"
    effect    = "Deny"
    actions   = ["s3:ListAllMyBuckets"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]
  }

  # Account-level check MWAA makes; the action has no resource type, so "*" is required.
  statement {
    sid       = "AccountPublicAccessBlock"
    actions   = ["s3:GetAccountPublicAccessBlock"]
    resources = ["*"]
  }

  statement {
    sid = "AirflowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:CreateLogGroup",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.names.mwaa_environment}-*"]
  }

  # logs:DescribeLogGroups and cloudwatch:PutMetricData have no resource-level permissions: "*".
  statement {
    sid       = "DescribeLogGroupsAndMetrics"
    actions   = ["logs:DescribeLogGroups", "cloudwatch:PutMetricData"]
    resources = ["*"]
  }

  # MWAA's Celery queue lives in an AWS-owned account, hence the "*" account in its ARN.
  statement {
    sid = "CeleryQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid       = "UseKeyThroughServices"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"]
    resources = [var.storage.kms_key.arn]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values = [
        "sqs.${local.region}.amazonaws.com",
        "s3.${local.region}.amazonaws.com",
        "secretsmanager.${local.region}.amazonaws.com",
        "dynamodb.${local.region}.amazonaws.com",
      ]
    }
  }

  statement {
    sid     = "AirflowSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:airflow/variables/*",
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:airflow/connections/*",
    ]
  }

  statement {
    sid       = "StartStateMachine"
    actions   = ["states:StartExecution"]
    resources = [var.state_machine.arn]
  }

  statement {
    sid = "FollowExecutions"
    actions = [
      "states:DescribeExecution",
      "states:GetExecutionHistory",
      "states:RedriveExecution",
    ]
    resources = [var.state_machine.arn, local.executions_arn]
  }

  statement {
    sid       = "RawCrawler"
    actions   = ["glue:StartCrawler", "glue:GetCrawler"]
    resources = [var.raw_crawler.arn]
  }

  # What a run cost, recorded when its execution ends (plugins/lakehouse/cost.py): the memory
  # of the functions it invoked, the crawler's crawls, and the size of an ECS task it ran.
  statement {
    sid       = "RunCostFunctions"
    actions   = ["lambda:GetFunctionConfiguration"]
    resources = [for f in values(var.functions) : f.arn]
  }

  statement {
    sid       = "RunCostCrawls"
    actions   = ["glue:ListCrawls"]
    resources = [var.raw_crawler.arn]
  }

  # DescribeTaskDefinition has no resource-level permissions: it is granted on "*" or not at all.
  statement {
    sid       = "RunCostTaskSizes"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  # The asset watcher's SQS trigger receives the raw bucket's notifications and deletes them
  # once they are asset events (the queue is encrypted with SQS-managed keys: no KMS grant).
  dynamic "statement" {
    for_each = var.raw_arrivals_queue == null ? [] : [var.raw_arrivals_queue.arn]

    content {
      sid       = "RawArrivalsQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      resources = [statement.value]
    }
  }

  # The Lakehouse view serves each run's data-quality report, which the test-executor stored
  # under this prefix of the curated bucket (contracts/functions.json): reading it, and no
  # other object of the bucket.
  statement {
    sid       = "DataQualityReports"
    actions   = ["s3:GetObject"]
    resources = ["${var.storage.buckets["curated"].arn}/${local.functions.dbt_artifacts_prefix}/${local.functions.reports_prefix}/*"]
  }

  statement {
    sid       = "RunLedger"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"]
    resources = [var.runs_table.arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "mwaa-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

################################################################################
# MWAA environment
################################################################################

resource "aws_mwaa_environment" "this" {
  name                             = var.names.mwaa_environment
  airflow_version                  = var.airflow_version
  environment_class                = var.environment_class
  execution_role_arn               = aws_iam_role.execution.arn
  kms_key                          = var.storage.kms_key.arn
  source_bucket_arn                = local.bucket_arn
  dag_s3_path                      = var.dag_s3_path
  requirements_s3_path             = try(var.sources.requirements.key, null)
  requirements_s3_object_version   = try(var.sources.requirements.version_id, null)
  plugins_s3_path                  = try(var.sources.plugins.key, null)
  plugins_s3_object_version        = try(var.sources.plugins.version_id, null)
  startup_script_s3_path           = try(var.sources.startup_script.key, null)
  startup_script_s3_object_version = try(var.sources.startup_script.version_id, null)
  webserver_access_mode            = "PRIVATE_ONLY"
  min_workers                      = var.min_workers
  max_workers                      = var.max_workers
  schedulers                       = var.schedulers
  weekly_maintenance_window_start  = var.weekly_maintenance_window_start
  airflow_configuration_options    = local.airflow_configuration_options
  tags                             = var.tags

  network_configuration {
    security_group_ids = var.security_group_ids
    subnet_ids         = var.subnet_ids
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = var.log_level
    }

    scheduler_logs {
      enabled   = true
      log_level = var.log_level
    }

    task_logs {
      enabled   = true
      log_level = var.log_level
    }

    webserver_logs {
      enabled   = true
      log_level = var.log_level
    }

    worker_logs {
      enabled   = true
      log_level = var.log_level
    }
  }

  # The role's policy and the Variable must exist before the scheduler parses the DAG.
  depends_on = [aws_iam_role_policy.execution, aws_secretsmanager_secret_version.lakehouse_config]
}
