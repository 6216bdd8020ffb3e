output "environment_arn" {
  description = "ARN of the MWAA environment."
  value       = aws_mwaa_environment.this.arn
}

output "environment_name" {
  description = "Name of the MWAA environment."
  value       = aws_mwaa_environment.this.name
}

output "webserver_url" {
  description = "Airflow UI URL (private: reachable from the VPC only)."
  value       = aws_mwaa_environment.this.webserver_url
}

output "execution_role_arn" {
  description = "ARN of the MWAA execution role."
  value       = aws_iam_role.execution.arn
}

output "lakehouse_config_secret_arn" {
  description = "ARN of the secret airflow/variables/lakehouse_config."
  value       = aws_secretsmanager_secret.lakehouse_config.arn
}

output "airflow_configuration_options" {
  description = "Airflow configuration options of the environment."
  value       = local.airflow_configuration_options
}
