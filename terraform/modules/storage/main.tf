data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # The four data buckets, all encrypted with the CMK and logged to the access logs bucket.
  buckets = {
    raw           = var.names.raw_bucket
    curated       = var.names.curated_bucket
    query_results = var.names.query_results_bucket
    mwaa          = var.names.mwaa_bucket
  }
}

################################################################################
# KMS customer managed key: one key for the environment's data at rest
################################################################################

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:Key policy: "*" is the key itself; account-root administration is AWS's default key policy and roles are narrowed by their IAM policies.
  #checkov:skip=CKV_AWS_356:Key policy: the only valid resource of a key policy statement is "*" (this key).
  #checkov:skip=CKV_AWS_109:Key policy: delegating key administration to the account's IAM is AWS's default key policy; without it the key becomes unmanageable.
  # Key policies must name the key as "*" (the key itself); IAM policies of the roles narrow it.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the Lambda, Step Functions, Glue and MWAA log groups with the CMK.
  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "Lakehouse data at rest (${var.names.kms_alias})"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = var.names.kms_alias
  target_key_id = aws_kms_key.this.key_id
}

################################################################################
# Data buckets: raw, curated, query results, MWAA
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Single-region deployment; cross-region replication is a disaster-recovery choice left to the operator.
  #checkov:skip=CKV2_AWS_62:No event consumers: the pipeline is scheduled by Airflow, not triggered by S3 events.
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Zone = each.key })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each = aws_s3_bucket.this

  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.value.id}/"

  # S3 checks the target bucket's permissions when logging is switched on
  # (InvalidTargetBucketForLogging): the delivery grant must exist first.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

locals {
  # One lifecycle per bucket: raw data is tiered, query results expire, curated data (Iceberg
  # manages its own snapshots) and MWAA sources keep their current versions.
  lifecycle = {
    raw = {
      transitions = concat(
        [{ days = var.raw_transition_to_ia_days, storage_class = "STANDARD_IA" }],
        var.raw_transition_to_glacier_days > 0 ? [{ days = var.raw_transition_to_glacier_days, storage_class = "GLACIER_IR" }] : [],
      )
      expiration_days = null
      noncurrent_days = var.noncurrent_version_expiration_days
      abort_days      = 7
    }
    curated = {
      transitions     = []
      expiration_days = null
      noncurrent_days = var.noncurrent_version_expiration_days
      abort_days      = 7
    }
    query_results = {
      transitions     = []
      expiration_days = var.query_results_expiration_days
      noncurrent_days = 1
      abort_days      = 1
    }
    mwaa = {
      transitions     = []
      expiration_days = null
      noncurrent_days = var.noncurrent_version_expiration_days
      abort_days      = 7
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "${replace(each.key, "_", "-")}-lifecycle"
    status = "Enabled"

    filter {}

    dynamic "transition" {
      for_each = local.lifecycle[each.key].transitions
      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }

    dynamic "expiration" {
      for_each = local.lifecycle[each.key].expiration_days == null ? [] : [local.lifecycle[each.key].expiration_days]
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = local.lifecycle[each.key].noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = local.lifecycle[each.key].abort_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

################################################################################
# Access logs bucket (target of S3 server access logging)
################################################################################

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target bucket; logging it into itself would loop.
  #checkov:skip=CKV_AWS_145:S3 server access logging only delivers to buckets encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV_AWS_144:Single-region deployment; cross-region replication is a disaster-recovery choice left to the operator.
  #checkov:skip=CKV2_AWS_62:No event consumers for access logs.
  bucket        = var.names.access_logs_bucket
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Zone = "access-logs" })
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_logs_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  # The delivery grant comes first: statement order means nothing to IAM, but the emulator's S3
  # (moto 5.2) reads this policy statement by statement when logging is switched on and fails on
  # a "*" principal before it reaches the grant (local/terraform_compat.py).
  statement {
    sid       = "S3ServerAccessLogsDelivery"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for bucket in aws_s3_bucket.this : bucket.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
