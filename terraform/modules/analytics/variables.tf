variable "workgroup" {
  description = "Name of the Athena workgroup used by dbt."
  type        = string
}

variable "query_results_bucket" {
  description = "Name of the bucket receiving query results."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the CMK encrypting query results (SSE_KMS)."
  type        = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Queries scanning more bytes than this are cancelled (minimum 10 MB)."
  type        = number
  default     = 107374182400 # 100 GiB

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "Athena's minimum bytes_scanned_cutoff_per_query is 10485760 (10 MB)."
  }
}

variable "force_destroy" {
  description = "Delete the workgroup even if it has saved queries."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
