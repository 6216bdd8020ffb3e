output "pipeline" {
  description = "The pipeline (DAG) name."
  value       = local.pipeline
}

output "names" {
  description = "Every name with a local counterpart (contracts/naming.json names), as a map."
  value       = local.names
}

output "aws_names" {
  description = "Names of AWS-only resources (contracts/naming.json aws_only_names), as a map."
  value       = local.aws_names
}

output "all_names" {
  description = "names and aws_names in one object: what a module takes as its `names` input (each module's type keeps the keys it needs)."
  value       = merge(local.names, local.aws_names)
}

output "raw_bucket" {
  description = "Name: raw_bucket."
  value       = local.names.raw_bucket
}

output "curated_bucket" {
  description = "Name: curated_bucket."
  value       = local.names.curated_bucket
}

output "query_results_bucket" {
  description = "Name: query_results_bucket."
  value       = local.names.query_results_bucket
}

output "runs_table" {
  description = "Name: runs_table."
  value       = local.names.runs_table
}

output "raw_database" {
  description = "Name: raw_database."
  value       = local.names.raw_database
}

output "crawled_database" {
  description = "Name: crawled_database."
  value       = local.names.crawled_database
}

output "curated_database" {
  description = "Name: curated_database."
  value       = local.names.curated_database
}

output "elementary_database" {
  description = "Name: elementary_database."
  value       = local.names.elementary_database
}

output "raw_crawler" {
  description = "Name: raw_crawler."
  value       = local.names.raw_crawler
}

output "alerts_topic" {
  description = "Name: alerts_topic."
  value       = local.names.alerts_topic
}

output "dbt_executor_function" {
  description = "Name: dbt_executor_function."
  value       = local.names.dbt_executor_function
}

output "test_executor_function" {
  description = "Name: test_executor_function."
  value       = local.names.test_executor_function
}

output "dbt_executor_role" {
  description = "Name: dbt_executor_role."
  value       = local.names.dbt_executor_role
}

output "test_executor_role" {
  description = "Name: test_executor_role."
  value       = local.names.test_executor_role
}

output "ingest_function" {
  description = "Name: ingest_function."
  value       = local.names.ingest_function
}

output "ingest_role" {
  description = "Name: ingest_role."
  value       = local.names.ingest_role
}

output "state_machine" {
  description = "Name: state_machine."
  value       = local.names.state_machine
}

output "state_machine_role" {
  description = "Name: state_machine_role."
  value       = local.names.state_machine_role
}

output "mwaa_bucket" {
  description = "Name: mwaa_bucket (AWS only)."
  value       = local.aws_names.mwaa_bucket
}

output "access_logs_bucket" {
  description = "Name: access_logs_bucket (AWS only)."
  value       = local.aws_names.access_logs_bucket
}

output "kms_alias" {
  description = "Name: kms_alias (AWS only)."
  value       = local.aws_names.kms_alias
}

output "athena_workgroup" {
  description = "Name: athena_workgroup (AWS only)."
  value       = local.aws_names.athena_workgroup
}

output "ecr_repository" {
  description = "Name: ecr_repository (AWS only)."
  value       = local.aws_names.ecr_repository
}

output "crawler_role" {
  description = "Name: crawler_role."
  value       = local.names.crawler_role
}

output "glue_security_config" {
  description = "Name: glue_security_config (AWS only)."
  value       = local.aws_names.glue_security_config
}

output "mwaa_environment" {
  description = "Name: mwaa_environment (AWS only)."
  value       = local.aws_names.mwaa_environment
}

output "mwaa_execution_role" {
  description = "Name: mwaa_execution_role (AWS only)."
  value       = local.aws_names.mwaa_execution_role
}

output "mwaa_security_group" {
  description = "Name: mwaa_security_group (AWS only)."
  value       = local.aws_names.mwaa_security_group
}

output "state_machine_log_group" {
  description = "Name: state_machine_log_group (AWS only)."
  value       = local.aws_names.state_machine_log_group
}
