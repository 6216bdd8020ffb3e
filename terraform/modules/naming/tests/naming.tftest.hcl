# The rule of contracts/naming.json; tests/infra/test_naming.py compares every name with Python's.

run "plain_rule_matches_local_names" {
  command = plan

  variables {
    environment = "local"
  }

  assert {
    condition     = output.raw_bucket == "lakehouse-local-raw" && output.query_results_bucket == "lakehouse-local-query-results"
    error_message = "bucket names must follow <prefix>-<env>-<what>"
  }

  assert {
    condition     = output.curated_database == "lakehouse_local_curated"
    error_message = "Glue databases use underscores (Athena rejects '-')"
  }

  assert {
    condition     = output.state_machine == "lakehouse-local-lakehouse-raw-to-curated"
    error_message = "state machine name is <prefix>-<env>-<pipeline with dashes>"
  }

  assert {
    condition     = length(output.names) == length(jsondecode(file("../../../contracts/naming.json")).names)
    error_message = "names must hold every name of contracts/naming.json"
  }
}

run "bucket_suffix_only_changes_buckets" {
  command = plan

  variables {
    prefix        = "data-lake"
    environment   = "prod"
    bucket_suffix = "123456789012"
  }

  assert {
    condition     = output.raw_bucket == "data-lake-prod-raw-123456789012" && output.mwaa_bucket == "data-lake-prod-mwaa-123456789012"
    error_message = "the suffix is appended to bucket names"
  }

  assert {
    condition     = output.runs_table == "data-lake-prod-runs" && output.raw_database == "data_lake_prod_raw"
    error_message = "the suffix must not change non-bucket names; dashes become underscores in databases"
  }
}

run "rejects_bad_environment" {
  command = plan

  variables {
    environment = "Prod-1"
  }

  expect_failures = [var.environment]
}
