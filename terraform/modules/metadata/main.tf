# The run ledger: one item per DAG run (pipeline, run_id), stages filled in by the state machine.
resource "aws_dynamodb_table" "runs" {
  name                        = var.runs_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pipeline"
  range_key                   = "run_id"
  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags

  attribute {
    name = "pipeline"
    type = "S"
  }

  attribute {
    name = "run_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key.arn
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}
