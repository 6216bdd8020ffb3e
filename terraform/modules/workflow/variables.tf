variable "dbt_executor_function" {
  description = "Name of the dbt-executor Lambda function."
  type        = string
}

variable "test_executor_function" {
  description = "Name of the test-executor Lambda function."
  type        = string
}

variable "dbt_executor_role" {
  description = "Name of the dbt-executor's IAM role."
  type        = string
}

variable "test_executor_role" {
  description = "Name of the test-executor's IAM role."
  type        = string
}

variable "state_machine" {
  description = "Name of the Step Functions state machine."
  type        = string
}

variable "state_machine_role" {
  description = "Name of the state machine's IAM role."
  type        = string
}

variable "state_machine_log_group" {
  description = "CloudWatch log group of the state machine (/aws/vendedlogs/states/... avoids resource policy size limits)."
  type        = string
}

variable "ecr_repository" {
  description = "Name of the ECR repository of the dbt runtime image."
  type        = string
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

variable "raw_bucket" {
  description = "Name of the raw bucket (read only)."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated bucket."
  type        = string
}

variable "query_results_bucket" {
  description = "Name of the Athena query results bucket."
  type        = string
}

variable "raw_database" {
  description = "Glue database of the raw zone."
  type        = string
}

variable "curated_database" {
  description = "Glue database of the curated zone (written by dbt-executor)."
  type        = string
}

variable "elementary_database" {
  description = "Glue database of Elementary's tables (written by test-executor)."
  type        = string
}

variable "athena_workgroup" {
  description = "Name of the Athena workgroup dbt uses."
  type        = string
}

variable "runs_table" {
  description = "Name of the DynamoDB run ledger."
  type        = string
}

variable "runs_table_arn" {
  description = "ARN of the DynamoDB run ledger."
  type        = string
}

variable "alerts_topic_arn" {
  description = "ARN of the SNS alerts topic."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the CMK (buckets, table, topic, logs, ECR, Lambda environment)."
  type        = string
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
