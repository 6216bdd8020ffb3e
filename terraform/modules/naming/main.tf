# The naming rule of local/naming.py (`resource_names(prefix, environment)`), in one place:
# `<prefix>-<env>-<what>`; Glue databases use `_` because Athena rejects `-`.
# tests/infra/test_naming.py proves both produce the same names.

locals {
  pipeline = "lakehouse_raw_to_curated"
  dash     = "${var.prefix}-${var.environment}"
  under    = replace(local.dash, "-", "_")
  bucket   = var.bucket_suffix == "" ? "" : "-${var.bucket_suffix}"

  # Exactly the names of local/naming.py's ResourceNames.
  names = {
    raw_bucket             = "${local.dash}-raw${local.bucket}"
    curated_bucket         = "${local.dash}-curated${local.bucket}"
    query_results_bucket   = "${local.dash}-query-results${local.bucket}"
    runs_table             = "${local.dash}-runs"
    raw_database           = "${local.under}_raw"
    crawled_database       = "${local.under}_raw_crawled"
    curated_database       = "${local.under}_curated"
    elementary_database    = "${local.under}_elementary"
    raw_crawler            = "${local.dash}-raw"
    alerts_topic           = "${local.dash}-alerts"
    dbt_executor_function  = "${local.dash}-dbt-executor"
    test_executor_function = "${local.dash}-test-executor"
    lambda_role            = "${local.dash}-lambda"
    state_machine          = "${local.dash}-${replace(local.pipeline, "_", "-")}"
    state_machine_role     = "${local.dash}-states"
  }

  # AWS-only resources (no local counterpart), same rule.
  aws_names = {
    mwaa_bucket             = "${local.dash}-mwaa${local.bucket}"
    access_logs_bucket      = "${local.dash}-access-logs${local.bucket}"
    kms_alias               = "alias/${local.dash}"
    athena_workgroup        = local.dash
    ecr_repository          = "${local.dash}-dbt-runtime"
    crawler_role            = "${local.dash}-crawler"
    glue_security_config    = "${local.dash}-glue"
    mwaa_environment        = local.dash
    mwaa_execution_role     = "${local.dash}-mwaa"
    mwaa_security_group     = "${local.dash}-mwaa"
    state_machine_log_group = "/aws/vendedlogs/states/${local.dash}-${replace(local.pipeline, "_", "-")}"
  }
}
