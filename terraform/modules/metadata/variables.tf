variable "runs_table" {
  description = "Name of the DynamoDB run ledger table."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the CMK encrypting the table."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the table against deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
