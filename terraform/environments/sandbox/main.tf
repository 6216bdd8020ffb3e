data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  repo_root = "${path.root}/${var.repo_root}"
  tags      = var.tags
  # Bucket names are global on AWS: suffix them with the account id unless told otherwise.
  bucket_suffix = var.bucket_suffix == null ? data.aws_caller_identity.current.account_id : var.bucket_suffix
  create_vpc    = var.vpc_id == null
  # The raw datasets are declared once, with their fields, in contracts/sources.json.
  raw_datasets = keys(jsondecode(file("${local.repo_root}/contracts/sources.json")).datasets)
}

module "naming" {
  source = "../../modules/naming"

  prefix        = var.prefix
  environment   = var.environment
  bucket_suffix = local.bucket_suffix
}

module "storage" {
  source = "../../modules/storage"

  names         = module.naming.all_names
  force_destroy = var.force_destroy
  tags          = local.tags
}

module "catalog" {
  source = "../../modules/catalog"

  names    = module.naming.all_names
  storage  = module.storage
  datasets = local.raw_datasets
  tags     = local.tags
}

module "metadata" {
  source = "../../modules/metadata"

  runs_table          = module.naming.runs_table
  kms_key             = module.storage.kms_key
  deletion_protection = !var.force_destroy
  tags                = local.tags
}

module "notifications" {
  source = "../../modules/notifications"

  alerts_topic        = module.naming.alerts_topic
  kms_key             = module.storage.kms_key
  email_subscriptions = var.alert_emails
  tags                = local.tags
}

module "analytics" {
  source = "../../modules/analytics"

  workgroup                      = module.naming.athena_workgroup
  storage                        = module.storage
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff_per_query
  force_destroy                  = var.force_destroy
  tags                           = local.tags
}

module "workflow" {
  source = "../../modules/workflow"

  names            = module.naming.all_names
  image_tag        = var.image_tag
  ecr_force_delete = var.force_destroy

  storage      = module.storage
  databases    = module.catalog.databases
  workgroup    = module.analytics.workgroup
  runs_table   = module.metadata.runs_table
  alerts_topic = module.notifications.alerts_topic
  # The dbt ECS tasks run in the private subnets MWAA uses.
  network = {
    vpc_id     = local.create_vpc ? module.network[0].vpc_id : var.vpc_id
    subnet_ids = local.create_vpc ? module.network[0].private_subnet_ids : var.private_subnet_ids
  }
  tags = local.tags
}

# Runs on arrival (off by default): the raw bucket's new files start
# lakehouse_raw_to_curated_on_arrival through an SQS queue (README, "Runs on arrival").
module "arrivals" {
  source = "../../modules/arrivals"
  count  = var.start_on_arrival ? 1 : 0

  names      = module.naming.all_names
  raw_bucket = module.storage.buckets["raw"]
  datasets   = local.raw_datasets
  tags       = local.tags
}

module "network" {
  source = "../../modules/network"
  count  = local.create_vpc ? 1 : 0

  name    = "${var.prefix}-${var.environment}"
  kms_key = module.storage.kms_key
  tags    = local.tags
}

################################################################################
# MWAA sources: DAGs, requirements.txt, the startup script and (when built) plugins.zip
################################################################################

resource "aws_s3_object" "dags" {
  for_each = fileset("${local.repo_root}/dags", "*.py")

  bucket      = module.storage.buckets["mwaa"].id
  key         = "dags/${each.value}"
  source      = "${local.repo_root}/dags/${each.value}"
  source_hash = filemd5("${local.repo_root}/dags/${each.value}")
}

resource "aws_s3_object" "requirements" {
  bucket      = module.storage.buckets["mwaa"].id
  key         = "requirements.txt"
  source      = "${local.repo_root}/requirements.txt"
  source_hash = filemd5("${local.repo_root}/requirements.txt")
}

resource "aws_s3_object" "startup" {
  bucket      = module.storage.buckets["mwaa"].id
  key         = "startup.sh"
  source      = "${local.repo_root}/mwaa/startup.sh"
  source_hash = filemd5("${local.repo_root}/mwaa/startup.sh")
}

resource "aws_s3_object" "plugins" {
  bucket      = module.storage.buckets["mwaa"].id
  key         = "plugins.zip"
  source      = "${path.root}/${var.plugins_zip}"
  source_hash = fileexists("${path.root}/${var.plugins_zip}") ? filemd5("${path.root}/${var.plugins_zip}") : null

  lifecycle {
    # Without it MWAA would run the DAG with no lakehouse plugins (the DAG imports them).
    precondition {
      condition     = fileexists("${path.root}/${var.plugins_zip}")
      error_message = "${var.plugins_zip} does not exist: build it with `make package` (make deploy does) before applying."
    }
  }
}

locals {
  # The Airflow Variable lakehouse_config: its keys and values are contracts/lakehouse_config.json,
  # which the local provisioner writes from too.
  lakehouse_config = {
    for key, template in jsondecode(file("${local.repo_root}/contracts/lakehouse_config.json")).keys :
    key => templatestring(template, merge(module.naming.names, {
      pipeline          = module.naming.pipeline
      state_machine_arn = module.workflow.state_machine.arn
      alerts_topic_arn  = module.notifications.alerts_topic.arn
      region            = data.aws_region.current.name
    }))
  }
}

module "orchestration" {
  source = "../../modules/orchestration"

  names             = module.naming.all_names
  environment_class = var.mwaa_environment_class
  storage           = module.storage
  sources = {
    requirements   = { key = aws_s3_object.requirements.key, version_id = aws_s3_object.requirements.version_id }
    plugins        = { key = aws_s3_object.plugins.key, version_id = aws_s3_object.plugins.version_id }
    startup_script = { key = aws_s3_object.startup.key, version_id = aws_s3_object.startup.version_id }
  }
  subnet_ids         = local.create_vpc ? module.network[0].private_subnet_ids : var.private_subnet_ids
  security_group_ids = local.create_vpc ? [module.network[0].mwaa_security_group_id] : var.security_group_ids
  state_machine      = module.workflow.state_machine
  functions          = module.workflow.functions
  raw_crawler        = module.catalog.raw_crawler
  runs_table         = module.metadata.runs_table
  lakehouse_config   = local.lakehouse_config
  raw_arrivals_queue = var.start_on_arrival ? module.arrivals[0].queue : null
  tags               = local.tags

  depends_on = [aws_s3_object.dags]
}
