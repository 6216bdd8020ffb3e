variable "prefix" {
  description = "Project prefix: lowercase letters, digits and '-', 2-21 characters, starting with a letter."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex(jsondecode(file("${path.module}/../../../contracts/naming.json")).patterns.prefix, var.prefix))
    error_message = "prefix must be lowercase letters, digits and '-' (2-21 characters, starting with a letter)."
  }
}

variable "environment" {
  description = "Environment name: lowercase letters and digits, 2-16 characters, starting with a letter."
  type        = string

  validation {
    condition     = can(regex(jsondecode(file("${path.module}/../../../contracts/naming.json")).patterns.environment, var.environment))
    error_message = "environment must be lowercase letters and digits, 2-16 characters, starting with a letter."
  }
}

variable "bucket_suffix" {
  description = "Optional suffix for S3 bucket names only (bucket names are global on AWS), e.g. the account id. Empty keeps the plain rule."
  type        = string
  default     = ""

  validation {
    condition     = can(regex(jsondecode(file("${path.module}/../../../contracts/naming.json")).patterns.bucket_suffix, var.bucket_suffix))
    error_message = "bucket_suffix must be at most 12 lowercase letters, digits or '-'."
  }
}
