output "runs_table" {
  description = "The run ledger table: { name, arn }."
  value       = { name = aws_dynamodb_table.runs.name, arn = aws_dynamodb_table.runs.arn }
}
