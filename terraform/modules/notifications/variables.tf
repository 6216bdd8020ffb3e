variable "alerts_topic" {
  description = "Name of the SNS topic receiving failed-run alerts."
  type        = string
}

variable "kms_key" {
  description = "The CMK encrypting the topic (pass module.storage.kms_key)."
  type        = object({ arn = string })
}

variable "email_subscriptions" {
  description = "E-mail addresses subscribed to the alerts (each must confirm)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
