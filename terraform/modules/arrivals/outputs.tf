output "queue" {
  description = "The queue of the raw bucket's new-file notifications: { arn, url }."
  value       = { arn = aws_sqs_queue.arrivals.arn, url = aws_sqs_queue.arrivals.url }
}

output "dead_letter_queue" {
  description = "Notifications the DAG's watcher did not take: { arn, url }."
  value       = { arn = aws_sqs_queue.dlq.arn, url = aws_sqs_queue.dlq.url }
}
