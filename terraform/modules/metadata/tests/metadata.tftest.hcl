mock_provider "aws" {}

variables {
  runs_table = "lakehouse-test-runs"
  kms_key    = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
}

run "run_ledger" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.runs.hash_key == "pipeline" && aws_dynamodb_table.runs.range_key == "run_id"
    error_message = "keys are contracts/run_record.json's: pipeline (hash) and run_id (range)"
  }

  assert {
    condition     = length(aws_dynamodb_table.runs.attribute) == 2 && alltrue([for a in aws_dynamodb_table.runs.attribute : a.type == "S"])
    error_message = "both keys, and only they, are declared, as strings"
  }

  assert {
    condition     = aws_dynamodb_table.runs.billing_mode == "PAY_PER_REQUEST"
    error_message = "on-demand billing"
  }

  assert {
    condition     = aws_dynamodb_table.runs.point_in_time_recovery[0].enabled
    error_message = "PITR is enabled"
  }

  assert {
    condition     = aws_dynamodb_table.runs.server_side_encryption[0].kms_key_arn == var.kms_key.arn
    error_message = "the table is encrypted with the CMK"
  }

  assert {
    condition     = aws_dynamodb_table.runs.ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.runs.ttl[0].enabled
    error_message = "TTL on expires_at"
  }
}
