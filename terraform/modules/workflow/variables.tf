variable "names" {
  description = "Names of what this module creates, under modules/naming's keys (pass module.naming.all_names). state_machine_log_group is under /aws/vendedlogs/states/, which avoids CloudWatch Logs' resource policy size limits."
  type = object({
    dbt_executor_function   = string
    test_executor_function  = string
    dbt_executor_role       = string
    test_executor_role      = string
    ingest_function         = string
    ingest_role             = string
    state_machine           = string
    state_machine_role      = string
    state_machine_log_group = string
    ecr_repository          = string
    ecs_cluster             = string
    dbt_task_family         = string
    dbt_task_role           = string
    dbt_task_execution_role = string
    dbt_task_log_group      = string
    source_secrets_prefix   = string
  })
}

variable "network" {
  description = "Where the dbt ECS tasks run (awsvpc): the VPC (for their security group) and private subnets with a route to the AWS APIs (NAT or VPC endpoints)."
  type = object({
    vpc_id     = string
    subnet_ids = list(string)
  })

  validation {
    condition     = length(var.network.subnet_ids) > 0
    error_message = "network.subnet_ids must name at least one subnet."
  }
}

variable "image_tag" {
  description = "Tag of the dbt runtime image in the ECR repository (tags are immutable: bump it to deploy)."
  type        = string
  default     = "latest"
}

variable "image_uri" {
  description = "Full image URI overriding <repository>:<image_tag> (e.g. an image of another registry)."
  type        = string
  default     = null
}

variable "storage" {
  description = "modules/storage's outputs (pass module.storage): the raw (read only), curated and query results buckets, and the CMK (buckets, table, topic, logs, ECR, Lambda environment)."
  type = object({
    buckets = map(object({ id = string, arn = string }))
    kms_key = object({ arn = string })
  })

  validation {
    condition     = alltrue([for zone in ["raw", "curated", "query_results"] : contains(keys(var.storage.buckets), zone)])
    error_message = "storage.buckets must have the raw, curated and query_results zones."
  }
}

variable "databases" {
  description = "modules/catalog's databases output (pass module.catalog.databases): raw (read), curated (written by the dbt-executor) and elementary (written by the test-executor)."
  type        = map(object({ name = string }))

  validation {
    condition     = alltrue([for zone in ["raw", "curated", "elementary"] : contains(keys(var.databases), zone)])
    error_message = "databases must have the raw, curated and elementary zones."
  }
}

variable "workgroup" {
  description = "modules/analytics' workgroup output (pass module.analytics.workgroup): the Athena workgroup dbt uses."
  type        = object({ name = string, arn = string })
}

variable "runs_table" {
  description = "modules/metadata's runs_table output (pass module.metadata.runs_table): the DynamoDB run ledger."
  type        = object({ name = string, arn = string })
}

variable "alerts_topic" {
  description = "modules/notifications' alerts_topic output (pass module.notifications.alerts_topic): the SNS topic of failed-run alerts."
  type        = object({ arn = string })
}

variable "memory_size" {
  description = "Memory (MB) of each function; null keeps contracts/functions.json's memory_mb."
  type        = number
  default     = null
}

variable "ephemeral_storage_size" {
  description = "/tmp size (MB) of each function (dbt copies its project and writes artifacts there)."
  type        = number
  default     = 2048
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of each function (runs are sequential; a small cap protects Athena)."
  type        = number
  default     = 4
}

variable "log_retention_days" {
  description = "Retention of the Lambda and state machine log groups."
  type        = number
  default     = 365
}

variable "ecr_force_delete" {
  description = "Delete the ECR repository even if it holds images (sandboxes only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
