output "ecr_repository_url" {
  description = "URL of the dbt runtime image repository (push images here)."
  value       = aws_ecr_repository.this.repository_url
}

output "image_uri" {
  description = "Image every function runs."
  value       = local.image_uri
}

output "functions" {
  description = "The Lambda functions by key (dbt_executor, test_executor, ingest): { name, arn, role_arn }."
  value = {
    for key, f in aws_lambda_function.this : key => {
      name     = f.function_name
      arn      = f.arn
      role_arn = aws_iam_role.lambda[key].arn
    }
  }
}

output "lambda_environment" {
  description = "Environment variables of each function, by key."
  value       = local.lambda_environment
}

output "state_machine" {
  description = "The Step Functions state machine: { name, arn, role_arn }."
  value = {
    name     = aws_sfn_state_machine.this.name
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.states.arn
  }
}

output "dbt_task" {
  description = "The dbt-executor as an ECS task (compute=ecs): { cluster_arn, task_definition_arn, task_role_arn, security_group_id }."
  value = {
    cluster_arn         = aws_ecs_cluster.this.arn
    task_definition_arn = aws_ecs_task_definition.dbt.arn
    task_role_arn       = aws_iam_role.dbt_task["task"].arn
    security_group_id   = aws_security_group.dbt_task.id
  }
}
