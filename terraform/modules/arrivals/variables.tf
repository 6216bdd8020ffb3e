variable "names" {
  description = "modules/naming's all_names output: the queue names (raw_arrivals_queue, raw_arrivals_dlq)."
  type        = object({ raw_arrivals_queue = string, raw_arrivals_dlq = string })
}

variable "raw_bucket" {
  description = "modules/storage's raw bucket (pass module.storage.buckets[\"raw\"]): the bucket whose new files are announced."
  type        = object({ id = string, arn = string })
}

variable "datasets" {
  description = "The raw datasets (contracts/sources.json datasets): one notification filter per <dataset>/ prefix."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
