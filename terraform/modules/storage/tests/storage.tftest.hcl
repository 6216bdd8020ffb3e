mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  names = {
    raw_bucket           = "lakehouse-test-raw"
    curated_bucket       = "lakehouse-test-curated"
    query_results_bucket = "lakehouse-test-query-results"
    mwaa_bucket          = "lakehouse-test-mwaa"
    access_logs_bucket   = "lakehouse-test-access-logs"
    kms_alias            = "alias/lakehouse-test"
  }
}

run "secure_buckets" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "the CMK must rotate"
  }

  assert {
    condition     = toset(keys(aws_s3_bucket.this)) == toset(["raw", "curated", "query_results", "mwaa"])
    error_message = "raw, curated, query-results and MWAA buckets"
  }

  assert {
    condition     = alltrue([for b in aws_s3_bucket_public_access_block.this : b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "every bucket blocks public access"
  }

  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"])
    error_message = "every bucket is versioned"
  }

  assert {
    condition     = alltrue([for e in aws_s3_bucket_server_side_encryption_configuration.this : one(one(e.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"])
    error_message = "every data bucket is encrypted with the CMK"
  }

  assert {
    condition = alltrue([for k, d in data.aws_iam_policy_document.tls_only : anytrue([
      for s in d.statement : s.effect == "Deny" && anytrue([for c in s.condition : c.variable == "aws:SecureTransport" && contains(c.values, "false")])
    ])])
    error_message = "every bucket policy denies requests without TLS"
  }

  assert {
    condition     = toset([for t in aws_s3_bucket_lifecycle_configuration.this["raw"].rule[0].transition : t.storage_class]) == toset(["STANDARD_IA", "GLACIER_IR"])
    error_message = "raw data is tiered by a lifecycle rule"
  }

  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.this["query_results"].rule[0].expiration).days == 30
    error_message = "query results expire"
  }

  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this["curated"].rule[0].expiration) == 0
    error_message = "curated data never expires"
  }
}
