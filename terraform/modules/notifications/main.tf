resource "aws_sns_topic" "alerts" {
  name              = var.alerts_topic
  kms_master_key_id = var.kms_key.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_subscriptions)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}
