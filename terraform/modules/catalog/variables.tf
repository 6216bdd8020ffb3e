variable "raw_database" {
  description = "Glue database of the raw zone's lines tables (what dbt reads)."
  type        = string
}

variable "crawled_database" {
  description = "Glue database the raw crawler writes (its inferred tables; nothing else)."
  type        = string
}

variable "curated_database" {
  description = "Glue database of the curated zone (dbt models)."
  type        = string
}

variable "elementary_database" {
  description = "Glue database of Elementary's tables (dbt test results)."
  type        = string
}

variable "raw_crawler" {
  description = "Name of the raw zone crawler."
  type        = string
}

variable "crawler_role" {
  description = "Name of the crawler's IAM role."
  type        = string
}

variable "security_configuration" {
  description = "Name of the Glue security configuration."
  type        = string
}

variable "raw_bucket" {
  description = "Name of the raw bucket."
  type        = string
}

variable "curated_bucket" {
  description = "Name of the curated bucket (database locations)."
  type        = string
}

variable "raw_prefixes" {
  description = "Prefixes of the raw bucket the crawler reads (one table per prefix)."
  type        = list(string)
  default     = ["events/", "users/"]
}

variable "crawler_schedule" {
  description = "Optional cron schedule of the crawler; null because the DAG starts it."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "ARN of the CMK (S3 objects, crawler logs)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
