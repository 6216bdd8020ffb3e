# The run ledger's key and TTL attribute: contracts/run_record.json, which the local provisioner,
# the Airflow side and the marts lease read too.
locals {
  record = jsondecode(file("${path.module}/../../../contracts/run_record.json"))
}

# The run ledger: one item per DAG run, stages filled in by the DAG and the state machine.
resource "aws_dynamodb_table" "runs" {
  name                        = var.runs_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = local.record.key.hash
  range_key                   = local.record.key.range
  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags

  dynamic "attribute" {
    for_each = [local.record.key.hash, local.record.key.range]
    content {
      name = attribute.value
      type = "S"
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key.arn
  }

  ttl {
    attribute_name = local.record.ttl_attribute
    enabled        = true
  }
}
