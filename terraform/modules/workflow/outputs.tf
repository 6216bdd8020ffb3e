output "ecr_repository_url" {
  description = "URL of the dbt runtime image repository (push images here)."
  value       = aws_ecr_repository.this.repository_url
}

output "image_uri" {
  description = "Image both functions run."
  value       = local.image_uri
}

output "function_arns" {
  description = "Lambda ARNs by function: dbt_executor, test_executor."
  value       = { for key, f in aws_lambda_function.this : key => f.arn }
}

output "function_role_arns" {
  description = "IAM role ARNs by function."
  value       = { for key, r in aws_iam_role.lambda : key => r.arn }
}

output "lambda_environment" {
  description = "Environment variables of both functions."
  value       = local.lambda_environment
}

output "state_machine_arn" {
  description = "ARN of the state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the state machine."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.states.arn
}
