variable "workgroup" {
  description = "Name of the Athena workgroup used by dbt."
  type        = string
}

variable "storage" {
  description = "modules/storage's outputs (pass module.storage): the query results bucket and the CMK encrypting the results (SSE_KMS)."
  type = object({
    buckets = map(object({ id = string }))
    kms_key = object({ arn = string })
  })

  validation {
    condition     = contains(keys(var.storage.buckets), "query_results")
    error_message = "storage.buckets must have the query_results zone."
  }
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
