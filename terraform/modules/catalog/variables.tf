variable "names" {
  description = "Names of what this module creates, under modules/naming's keys (pass module.naming.all_names): the raw zone's lines tables' database (what dbt reads), the raw crawler's own database (its inferred tables; nothing else), the curated and Elementary databases, the raw crawler, its role and the Glue security configuration."
  type = object({
    raw_database         = string
    crawled_database     = string
    curated_database     = string
    elementary_database  = string
    raw_crawler          = string
    crawler_role         = string
    glue_security_config = string
  })
}

variable "storage" {
  description = "modules/storage's outputs (pass module.storage): the raw bucket (crawled), the curated bucket (database locations) and the CMK (S3 objects, crawler logs)."
  type = object({
    buckets = map(object({ id = string, arn = string }))
    kms_key = object({ arn = string })
  })

  validation {
    condition     = alltrue([for zone in ["raw", "curated"] : contains(keys(var.storage.buckets), zone)])
    error_message = "storage.buckets must have the raw and curated zones."
  }
}

variable "datasets" {
  description = "The raw datasets (contracts/sources.json datasets): the crawler reads each one's <dataset>/ prefix of the raw bucket and each gets a <dataset>_lines table."
  type        = list(string)

  validation {
    condition     = length(var.datasets) > 0 && alltrue([for d in var.datasets : can(regex("^[a-z][a-z0-9_]*$", d))])
    error_message = "datasets must be one or more lower-case dataset names (contracts/sources.json)."
  }
}

variable "crawler_schedule" {
  description = "Optional cron schedule of the crawler; null because the DAG starts it."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
