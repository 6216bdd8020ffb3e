variable "names" {
  description = "Names of what this module creates, under modules/naming's keys (pass module.naming.all_names): the raw zone bucket (landing data, crawled by Glue; never modified by the pipeline), the curated zone bucket (Iceberg tables written by dbt, Elementary results), the Athena query results bucket, the MWAA source bucket (dags/, plugins.zip, requirements.txt), the bucket receiving the four others' S3 server access logs, and the CMK's alias (e.g. alias/lakehouse-dev)."
  type = object({
    raw_bucket           = string
    curated_bucket       = string
    query_results_bucket = string
    mwaa_bucket          = string
    access_logs_bucket   = string
    kms_alias            = string
  })
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
