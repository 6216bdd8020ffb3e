variable "raw_bucket" {
  description = "Name of the raw zone bucket (landing data, crawled by Glue; never modified by the pipeline)."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated zone bucket (Iceberg tables written by dbt, Elementary results)."
  type        = string
}

variable "query_results_bucket" {
  description = "Name of the Athena query results bucket."
  type        = string
}

variable "mwaa_bucket" {
  description = "Name of the MWAA source bucket (dags/, plugins.zip, requirements.txt)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Name of the bucket receiving S3 server access logs of the four buckets above."
  type        = string
}

variable "kms_alias" {
  description = "Alias of the customer managed KMS key (e.g. alias/lakehouse-dev)."
  type        = string
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the CMK is deleted after destroy."
  type        = number
  default     = 30
}

variable "raw_transition_to_ia_days" {
  description = "Days after which raw objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "raw_transition_to_glacier_days" {
  description = "Days after which raw objects move to GLACIER_IR (0 disables)."
  type        = number
  default     = 180
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted (all buckets)."
  type        = number
  default     = 90
}

variable "query_results_expiration_days" {
  description = "Days after which Athena query results are deleted."
  type        = number
  default     = 30
}

variable "access_logs_expiration_days" {
  description = "Days after which S3 access logs are deleted."
  type        = number
  default     = 365
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets (sandboxes only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
