output "alerts_topic" {
  description = "The alerts topic: { name, arn }."
  value       = { name = aws_sns_topic.alerts.name, arn = aws_sns_topic.alerts.arn }
}
