mock_provider "aws" {}

variables {
  alerts_topic        = "lakehouse-test-alerts"
  kms_key             = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  email_subscriptions = ["oncall@example.com"]
}

run "alerts_topic" {
  command = plan

  assert {
    condition     = aws_sns_topic.alerts.name == "lakehouse-test-alerts"
    error_message = "topic name from the naming rule"
  }

  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == var.kms_key.arn
    error_message = "the topic is encrypted with the CMK"
  }

  assert {
    condition     = aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email"
    error_message = "e-mail subscriptions are created"
  }
}
