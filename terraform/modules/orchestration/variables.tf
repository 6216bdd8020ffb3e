variable "environment_name" {
  description = "Name of the MWAA environment."
  type        = string
}

variable "execution_role" {
  description = "Name of the MWAA execution role."
  type        = string
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

variable "source_bucket" {
  description = "Name of the MWAA source bucket."
  type        = string
}

variable "dag_s3_path" {
  description = "Prefix of the DAGs in the source bucket."
  type        = string
  default     = "dags/"
}

variable "requirements_s3_path" {
  description = "Key of requirements.txt in the source bucket (null: none)."
  type        = string
  default     = null
}

variable "requirements_s3_object_version" {
  description = "Object version of requirements.txt (MWAA reinstalls when it changes)."
  type        = string
  default     = null
}

variable "plugins_s3_path" {
  description = "Key of plugins.zip in the source bucket (null: none)."
  type        = string
  default     = null
}

variable "plugins_s3_object_version" {
  description = "Object version of plugins.zip."
  type        = string
  default     = null
}

variable "startup_script_s3_path" {
  description = "Key of the startup script in the source bucket (null: none)."
  type        = string
  default     = null
}

variable "startup_script_s3_object_version" {
  description = "Object version of the startup script."
  type        = string
  default     = null
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

variable "kms_key_arn" {
  description = "ARN of the CMK encrypting the environment, its logs and the Airflow secrets."
  type        = string
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

variable "state_machine_arn" {
  description = "ARN of the state machine the DAG starts."
  type        = string
}

variable "raw_crawler" {
  description = "Name of the raw crawler the DAG starts."
  type        = string
}

variable "runs_table_arn" {
  description = "ARN of the DynamoDB run ledger the DAG writes."
  type        = string
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
