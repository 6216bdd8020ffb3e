resource "aws_athena_workgroup" "this" {
  name          = var.workgroup
  description   = "Lakehouse dbt queries (engine v3, results encrypted with the CMK)"
  state         = "ENABLED"
  force_destroy = var.force_destroy
  tags          = var.tags

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      # The same location the dbt runtime gets as ATHENA_RESULTS_S3.
      output_location = "s3://${var.storage.buckets["query_results"].id}/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.storage.kms_key.arn
      }
    }
  }
}
