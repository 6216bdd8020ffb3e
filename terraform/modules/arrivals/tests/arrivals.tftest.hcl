mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  names      = { raw_arrivals_queue = "lakehouse-test-raw-arrivals", raw_arrivals_dlq = "lakehouse-test-raw-arrivals-dlq" }
  raw_bucket = { id = "lakehouse-test-raw", arn = "arn:aws:s3:::lakehouse-test-raw" }
  datasets   = ["events", "users"]
}

run "queue_and_notification" {
  command = apply

  assert {
    condition     = aws_sqs_queue.arrivals.name == "lakehouse-test-raw-arrivals" && aws_sqs_queue.dlq.name == "lakehouse-test-raw-arrivals-dlq"
    error_message = "queue names from the naming rule"
  }

  assert {
    condition     = aws_sqs_queue.arrivals.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "both queues are encrypted at rest"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.arrivals.redrive_policy).maxReceiveCount == local.contract.queue.max_receive_count
    error_message = "messages move to the DLQ after the contract's max_receive_count receives"
  }

  assert {
    condition     = aws_s3_bucket_notification.raw.bucket == "lakehouse-test-raw"
    error_message = "the notification is on the raw bucket"
  }

  assert {
    condition     = toset([for q in aws_s3_bucket_notification.raw.queue : q.filter_prefix]) == toset(["events/", "users/"])
    error_message = "one ObjectCreated notification per raw dataset prefix"
  }

  assert {
    condition     = alltrue([for q in aws_s3_bucket_notification.raw.queue : q.events == toset(local.contract.events)])
    error_message = "only created objects are announced"
  }
}

run "policy_lets_only_the_raw_bucket_send" {
  command = plan

  assert {
    condition = (
      alltrue([for p in data.aws_iam_policy_document.arrivals.statement[0].principals : p.type == "Service" && length(p.identifiers) == 1 && contains(p.identifiers, "s3.amazonaws.com")]) &&
      length(data.aws_iam_policy_document.arrivals.statement[0].actions) == 1 &&
      contains(data.aws_iam_policy_document.arrivals.statement[0].actions, "sqs:SendMessage") &&
      anytrue([for c in data.aws_iam_policy_document.arrivals.statement[0].condition : c.variable == "aws:SourceArn" && length(c.values) == 1 && contains(c.values, "arn:aws:s3:::lakehouse-test-raw")])
    )
    error_message = "S3 may send, for the raw bucket only"
  }
}
