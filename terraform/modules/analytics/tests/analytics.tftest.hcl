mock_provider "aws" {}

variables {
  workgroup = "lakehouse-test"
  storage = {
    buckets = { query_results = { id = "lakehouse-test-query-results" } }
    kms_key = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
}

run "workgroup" {
  command = plan

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].engine_version[0].selected_engine_version == "Athena engine version 3"
    error_message = "Athena engine version 3"
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].enforce_workgroup_configuration
    error_message = "the workgroup configuration is enforced"
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].result_configuration[0].output_location == "s3://lakehouse-test-query-results/"
    error_message = "results go to the query results bucket (the dbt runtime's ATHENA_RESULTS_S3)"
  }

  assert {
    condition = (
      aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS" &&
      aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].kms_key_arn == var.storage.kms_key.arn
    )
    error_message = "results are encrypted with the CMK"
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].bytes_scanned_cutoff_per_query == 107374182400
    error_message = "a per-query scan cutoff is set"
  }
}

run "rejects_tiny_cutoff" {
  command = plan

  variables {
    bytes_scanned_cutoff_per_query = 1024
  }

  expect_failures = [var.bytes_scanned_cutoff_per_query]
}
