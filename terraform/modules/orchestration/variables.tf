variable "names" {
  description = "Names of what this module creates, under modules/naming's keys (pass module.naming.all_names): the MWAA environment and its execution role."
  type = object({
    mwaa_environment    = string
    mwaa_execution_role = string
  })
}

variable "airflow_version" {
  description = "Airflow version of the MWAA environment."
  type        = string
  default     = "3.3.1"
}

variable "environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum number of workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum number of workers."
  type        = number
  default     = 2
}

variable "schedulers" {
  description = "Number of schedulers."
  type        = number
  default     = 2
}

variable "weekly_maintenance_window_start" {
  description = "Weekly maintenance window start (DAY:HH:MM, UTC); outside the 06:00 UTC run."
  type        = string
  default     = "SUN:02:00"
}

variable "storage" {
  description = "modules/storage's outputs (pass module.storage): the MWAA source bucket (zone mwaa), the curated bucket (zone curated: the Lakehouse view reads the data-quality reports there) and the CMK encrypting the environment, its logs and the Airflow secrets."
  type = object({
    buckets = map(object({ id = string, arn = string }))
    kms_key = object({ arn = string })
  })

  validation {
    condition     = contains(keys(var.storage.buckets), "mwaa") && contains(keys(var.storage.buckets), "curated")
    error_message = "storage.buckets must have the mwaa zone (the source bucket) and the curated zone (the data-quality reports)."
  }
}

variable "sources" {
  description = "Objects of the source bucket besides the DAGs: requirements.txt, plugins.zip and the startup script, each { key, version_id } (an aws_s3_object's attributes; MWAA reinstalls when a version changes). One left out is not given to MWAA."
  type = object({
    requirements   = optional(object({ key = string, version_id = optional(string) }))
    plugins        = optional(object({ key = string, version_id = optional(string) }))
    startup_script = optional(object({ key = string, version_id = optional(string) }))
  })
  default = {}
}

variable "dag_s3_path" {
  description = "Prefix of the DAGs in the source bucket."
  type        = string
  default     = "dags/"
}

variable "subnet_ids" {
  description = "Two private subnets (in two AZs) of an existing VPC, with a route to AWS APIs (NAT or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 2
    error_message = "MWAA needs exactly two private subnets."
  }
}

variable "security_group_ids" {
  description = "Security groups of the environment (must allow all traffic between their members)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0 && length(var.security_group_ids) <= 5
    error_message = "Give 1 to 5 security groups."
  }
}

variable "log_level" {
  description = "Level of the five Airflow log types."
  type        = string
  default     = "INFO"
}

variable "airflow_configuration_options" {
  description = "Extra Airflow configuration options, merged over those of mwaa/airflow_configuration.yaml."
  type        = map(string)
  default     = {}
}

variable "state_machine" {
  description = "modules/workflow's state_machine output (pass module.workflow.state_machine): the state machine the DAG starts."
  type        = object({ name = string, arn = string })
}

variable "functions" {
  description = "modules/workflow's functions output (pass module.workflow.functions): the Lambda functions the state machine invokes. The DAG reads their configured memory to price a run (plugins/lakehouse/cost.py)."
  type        = map(object({ arn = string }))
}

variable "raw_crawler" {
  description = "modules/catalog's raw_crawler output (pass module.catalog.raw_crawler): the crawler the DAG starts."
  type        = object({ arn = string })
}

variable "runs_table" {
  description = "modules/metadata's runs_table output (pass module.metadata.runs_table): the DynamoDB run ledger the DAG writes."
  type        = object({ arn = string })
}

variable "raw_arrivals_queue" {
  description = "modules/arrivals' queue output ({ arn, url }) when runs start on arrival, else null: the execution role may take its messages and MWAA gets lakehouse.raw_arrivals_queue_url."
  type        = object({ arn = string, url = string })
  default     = null
}

variable "lakehouse_config" {
  description = "Value of the Airflow Variable lakehouse_config: the keys of contracts/lakehouse_config.json."
  type        = map(string)

  validation {
    condition = (
      sort(keys(var.lakehouse_config)) ==
      sort(keys(jsondecode(file("${path.module}/../../../contracts/lakehouse_config.json")).keys))
    )
    error_message = "lakehouse_config must have exactly the keys of contracts/lakehouse_config.json."
  }
}

variable "secret_recovery_window_in_days" {
  description = "Recovery window of the Airflow secrets (0 deletes immediately)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
