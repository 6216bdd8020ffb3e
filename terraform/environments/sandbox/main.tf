data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  repo_root = "${path.root}/${var.repo_root}"
  tags      = var.tags
  # Bucket names are global on AWS: suffix them with the account id unless told otherwise.
  bucket_suffix = var.bucket_suffix == null ? data.aws_caller_identity.current.account_id : var.bucket_suffix
  create_vpc    = var.vpc_id == null
}

module "naming" {
  source = "../../modules/naming"

  prefix        = var.prefix
  environment   = var.environment
  bucket_suffix = local.bucket_suffix
}

module "storage" {
  source = "../../modules/storage"

  raw_bucket           = module.naming.raw_bucket
  curated_bucket       = module.naming.curated_bucket
  query_results_bucket = module.naming.query_results_bucket
  mwaa_bucket          = module.naming.mwaa_bucket
  access_logs_bucket   = module.naming.access_logs_bucket
  kms_alias            = module.naming.kms_alias
  force_destroy        = var.force_destroy
  tags                 = local.tags
}

module "catalog" {
  source = "../../modules/catalog"

  raw_database           = module.naming.raw_database
  crawled_database       = module.naming.crawled_database
  curated_database       = module.naming.curated_database
  elementary_database    = module.naming.elementary_database
  raw_crawler            = module.naming.raw_crawler
  crawler_role           = module.naming.crawler_role
  security_configuration = module.naming.glue_security_config
  raw_bucket             = module.storage.bucket_ids["raw"]
  curated_bucket         = module.storage.bucket_ids["curated"]
  kms_key_arn            = module.storage.kms_key_arn
  tags                   = local.tags
}

module "metadata" {
  source = "../../modules/metadata"

  runs_table          = module.naming.runs_table
  kms_key_arn         = module.storage.kms_key_arn
  deletion_protection = !var.force_destroy
  tags                = local.tags
}

module "notifications" {
  source = "../../modules/notifications"

  alerts_topic        = module.naming.alerts_topic
  kms_key_arn         = module.storage.kms_key_arn
  email_subscriptions = var.alert_emails
  tags                = local.tags
}

module "analytics" {
  source = "../../modules/analytics"

  workgroup                      = module.naming.athena_workgroup
  query_results_bucket           = module.storage.bucket_ids["query_results"]
  kms_key_arn                    = module.storage.kms_key_arn
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff_per_query
  force_destroy                  = var.force_destroy
  tags                           = local.tags
}

module "workflow" {
  source = "../../modules/workflow"

  dbt_executor_function   = module.naming.dbt_executor_function
  test_executor_function  = module.naming.test_executor_function
  dbt_executor_role       = module.naming.dbt_executor_role
  test_executor_role      = module.naming.test_executor_role
  state_machine           = module.naming.state_machine
  state_machine_role      = module.naming.state_machine_role
  state_machine_log_group = module.naming.state_machine_log_group
  ecr_repository          = module.naming.ecr_repository
  image_tag               = var.image_tag
  ecr_force_delete        = var.force_destroy

  raw_bucket           = module.storage.bucket_ids["raw"]
  curated_bucket       = module.storage.bucket_ids["curated"]
  query_results_bucket = module.storage.bucket_ids["query_results"]
  raw_database         = module.catalog.database_names["raw"]
  curated_database     = module.catalog.database_names["curated"]
  elementary_database  = module.catalog.database_names["elementary"]
  athena_workgroup     = module.analytics.workgroup_name
  runs_table           = module.metadata.table_name
  runs_table_arn       = module.metadata.table_arn
  alerts_topic_arn     = module.notifications.topic_arn
  kms_key_arn          = module.storage.kms_key_arn
  tags                 = local.tags
}

module "network" {
  source = "../../modules/network"
  count  = local.create_vpc ? 1 : 0

  name        = "${var.prefix}-${var.environment}"
  kms_key_arn = module.storage.kms_key_arn
  tags        = local.tags
}

################################################################################
# MWAA sources: DAGs, requirements.txt, the startup script and (when built) plugins.zip
################################################################################

resource "aws_s3_object" "dags" {
  for_each = fileset("${local.repo_root}/dags", "*.py")

  bucket      = module.storage.bucket_ids["mwaa"]
  key         = "dags/${each.value}"
  source      = "${local.repo_root}/dags/${each.value}"
  source_hash = filemd5("${local.repo_root}/dags/${each.value}")
}

resource "aws_s3_object" "requirements" {
  bucket      = module.storage.bucket_ids["mwaa"]
  key         = "requirements.txt"
  source      = "${local.repo_root}/requirements.txt"
  source_hash = filemd5("${local.repo_root}/requirements.txt")
}

resource "aws_s3_object" "startup" {
  bucket      = module.storage.bucket_ids["mwaa"]
  key         = "startup.sh"
  source      = "${local.repo_root}/mwaa/startup.sh"
  source_hash = filemd5("${local.repo_root}/mwaa/startup.sh")
}

resource "aws_s3_object" "plugins" {
  count = fileexists("${path.root}/${var.plugins_zip}") ? 1 : 0

  bucket      = module.storage.bucket_ids["mwaa"]
  key         = "plugins.zip"
  source      = "${path.root}/${var.plugins_zip}"
  source_hash = filemd5("${path.root}/${var.plugins_zip}")
}

locals {
  # The Airflow Variable lakehouse_config: its keys and values are contracts/lakehouse_config.json,
  # which the local provisioner writes from too.
  lakehouse_config = {
    for key, template in jsondecode(file("${local.repo_root}/contracts/lakehouse_config.json")).keys :
    key => templatestring(template, merge(module.naming.names, {
      pipeline          = module.naming.pipeline
      state_machine_arn = module.workflow.state_machine_arn
      alerts_topic_arn  = module.notifications.topic_arn
      region            = data.aws_region.current.name
    }))
  }
}

module "orchestration" {
  source = "../../modules/orchestration"

  environment_name                 = module.naming.mwaa_environment
  execution_role                   = module.naming.mwaa_execution_role
  environment_class                = var.mwaa_environment_class
  source_bucket                    = module.storage.bucket_ids["mwaa"]
  requirements_s3_path             = aws_s3_object.requirements.key
  requirements_s3_object_version   = aws_s3_object.requirements.version_id
  plugins_s3_path                  = one(aws_s3_object.plugins[*].key)
  plugins_s3_object_version        = one(aws_s3_object.plugins[*].version_id)
  startup_script_s3_path           = aws_s3_object.startup.key
  startup_script_s3_object_version = aws_s3_object.startup.version_id
  subnet_ids                       = local.create_vpc ? module.network[0].private_subnet_ids : var.private_subnet_ids
  security_group_ids               = local.create_vpc ? [module.network[0].mwaa_security_group_id] : var.security_group_ids
  kms_key_arn                      = module.storage.kms_key_arn
  state_machine_arn                = module.workflow.state_machine_arn
  raw_crawler                      = module.catalog.raw_crawler_name
  runs_table_arn                   = module.metadata.table_arn
  lakehouse_config                 = local.lakehouse_config
  tags                             = local.tags

  depends_on = [aws_s3_object.dags]
}
