output "workgroup_name" {
  description = "Name of the Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "workgroup_arn" {
  description = "ARN of the Athena workgroup."
  value       = aws_athena_workgroup.this.arn
}

output "output_location" {
  description = "Query results location (s3://<bucket>/)."
  value       = "s3://${var.query_results_bucket}/"
}
