output "names" {
  description = "Resource names of the environment (modules/naming)."
  value       = module.naming.names
}

output "ecr_repository_url" {
  description = "Push the dbt runtime image here, tagged var.image_tag."
  value       = module.workflow.ecr_repository_url
}

output "state_machine_arn" {
  description = "ARN of the state machine."
  value       = module.workflow.state_machine.arn
}

output "mwaa_webserver_url" {
  description = "Airflow UI (private)."
  value       = module.orchestration.webserver_url
}

output "mwaa_bucket" {
  description = "MWAA source bucket (dags/, plugins.zip, requirements.txt)."
  value       = module.storage.buckets["mwaa"].id
}

output "lakehouse_config" {
  description = "Value of the Airflow Variable lakehouse_config."
  value       = local.lakehouse_config
}

output "region" {
  description = "AWS region of this environment (used by scripts/deploy.sh)."
  value       = data.aws_region.current.name
}

output "raw_arrivals_queue" {
  description = "The queue of the raw bucket's new-file notifications ({ arn, url }), when start_on_arrival."
  value       = var.start_on_arrival ? module.arrivals[0].queue : null
}
