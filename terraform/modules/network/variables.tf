variable "name" {
  description = "Name prefix of the network resources (e.g. lakehouse-dev)."
  type        = string
}

variable "cidr_block" {
  description = "CIDR of the VPC; split into two public and two private /20 subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "kms_key" {
  description = "The CMK encrypting the flow log group (pass module.storage.kms_key)."
  type        = object({ arn = string })
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
