variable "runs_table" {
  description = "Name of the DynamoDB run ledger table."
  type        = string
}

variable "kms_key" {
  description = "The CMK encrypting the table (pass module.storage.kms_key)."
  type        = object({ arn = string })
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
