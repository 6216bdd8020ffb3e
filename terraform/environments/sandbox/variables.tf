variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"
}

variable "prefix" {
  description = "Project prefix of every name (see modules/naming)."
  type        = string
  default     = "lakehouse"
}

variable "environment" {
  description = "Environment name (see modules/naming)."
  type        = string
  default     = "sandbox"
}

variable "bucket_suffix" {
  description = "Suffix of the S3 bucket names (globally unique on AWS); null uses the account id, \"\" none."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the dbt runtime image pushed to the ECR repository (see README)."
  type        = string
}

variable "vpc_id" {
  description = "Existing VPC for MWAA; null creates a small one (modules/network)."
  type        = string
  default     = null
}

variable "private_subnet_ids" {
  description = "Two private subnets of the existing VPC (when vpc_id is set)."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for MWAA in the existing VPC (when vpc_id is set)."
  type        = list(string)
  default     = []
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to failed-run alerts."
  type        = list(string)
  default     = []
}

variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Athena per-query scan limit in bytes."
  type        = number
  default     = 107374182400
}

variable "repo_root" {
  description = "Path of the repository root, relative to this directory (DAGs and requirements.txt are uploaded from it)."
  type        = string
  default     = "../../.."
}

variable "plugins_zip" {
  description = "Path of plugins.zip (built by `make package`, relative to this directory); the plan fails without it."
  type        = string
  default     = "../../../dist/mwaa/plugins.zip"
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets and the ECR repository (sandboxes only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "start_on_arrival" {
  description = "Also start runs when raw files land (S3 notifications -> SQS -> the DAG lakehouse_raw_to_curated_on_arrival); the daily DAG is unchanged either way."
  type        = bool
  default     = false
}
