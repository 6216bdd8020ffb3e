data "aws_caller_identity" "current" {}

locals {
  # The queues' settings and the notification's events, which the local provisioner reads too.
  contract = jsondecode(file("${path.module}/../../../contracts/raw_arrivals.json"))
}

################################################################################
# The queue the raw bucket announces new files to, read by the DAG's asset watcher
################################################################################

resource "aws_sqs_queue" "dlq" {
  name = var.names.raw_arrivals_dlq
  # SQS-managed keys: S3 can send to the queue without a grant on the CMK's key policy.
  sqs_managed_sse_enabled = true
  # A notification still here names a file no run was started for.
  message_retention_seconds = local.contract.dead_letter_queue.message_retention_seconds
  tags                      = var.tags
}

resource "aws_sqs_queue" "arrivals" {
  name                    = var.names.raw_arrivals_queue
  sqs_managed_sse_enabled = true
  # Longer than the watcher takes between receiving a batch and deleting it.
  visibility_timeout_seconds = local.contract.queue.visibility_timeout_seconds
  # While the on-arrival DAG is paused its watcher does not run: notifications wait here.
  message_retention_seconds = local.contract.queue.message_retention_seconds
  # Messages the watcher cannot take (a trigger that keeps failing) end in the DLQ.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = local.contract.queue.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.arrivals.arn]
  })
}

data "aws_iam_policy_document" "arrivals" {
  statement {
    sid       = "RawBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.arrivals.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    # Only this account's raw bucket (bucket names are global: the account pins it).
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.raw_bucket.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "arrivals" {
  queue_url = aws_sqs_queue.arrivals.id
  policy    = data.aws_iam_policy_document.arrivals.json
}

# The bucket's one notification configuration: a bucket takes a single one, so nothing else
# may declare another for the raw bucket.
resource "aws_s3_bucket_notification" "raw" {
  bucket = var.raw_bucket.id

  dynamic "queue" {
    for_each = toset(var.datasets)

    content {
      id            = "raw-arrivals-${queue.value}"
      queue_arn     = aws_sqs_queue.arrivals.arn
      events        = local.contract.events
      filter_prefix = "${queue.value}/"
    }
  }

  # S3 checks that it may send to the queue when the notification is put.
  depends_on = [aws_sqs_queue_policy.arrivals]
}
