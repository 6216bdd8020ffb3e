variable "prefix" {
  description = "Project prefix: lowercase letters, digits and '-', 2-21 characters, starting with a letter."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.prefix))
    error_message = "prefix must be lowercase letters, digits and '-' (2-21 characters, starting with a letter)."
  }
}

variable "environment" {
  description = "Environment name: lowercase letters and digits, 2-16 characters, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9]{1,15}$."
  }
}

variable "bucket_suffix" {
  description = "Optional suffix for S3 bucket names only (bucket names are global on AWS), e.g. the account id. Empty keeps the plain rule."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9-]{0,12}$", var.bucket_suffix))
    error_message = "bucket_suffix must be at most 12 lowercase letters, digits or '-'."
  }
}
