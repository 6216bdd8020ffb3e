output "table_name" {
  description = "Name of the run ledger table."
  value       = aws_dynamodb_table.runs.name
}

output "table_arn" {
  description = "ARN of the run ledger table."
  value       = aws_dynamodb_table.runs.arn
}
