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
    mwaa_environment    = "lakehouse-test"
    mwaa_execution_role = "lakehouse-test-mwaa"
  }
  storage = {
    buckets = {
      mwaa    = { id = "lakehouse-test-mwaa", arn = "arn:aws:s3:::lakehouse-test-mwaa" }
      curated = { id = "lakehouse-test-curated", arn = "arn:aws:s3:::lakehouse-test-curated" }
    }
    kms_key = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  sources = {
    requirements = { key = "requirements.txt" }
  }
  subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-aaaa"]
  state_machine = {
    name = "lakehouse-test-lakehouse-raw-to-curated"
    arn  = "arn:aws:states:us-east-1:123456789012:stateMachine:lakehouse-test-lakehouse-raw-to-curated"
  }
  functions = {
    dbt_executor  = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-dbt-executor" }
    test_executor = { arn = "arn:aws:lambda:us-east-1:123456789012:function:lakehouse-test-test-executor" }
  }
  raw_crawler = { arn = "arn:aws:glue:us-east-1:123456789012:crawler/lakehouse-test-raw" }
  runs_table  = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/lakehouse-test-runs" }
  lakehouse_config = {
    pipeline            = "lakehouse_raw_to_curated"
    state_machine_arn   = "arn:aws:states:us-east-1:123456789012:stateMachine:lakehouse-test-lakehouse-raw-to-curated"
    runs_table          = "lakehouse-test-runs"
    raw_crawler         = "lakehouse-test-raw"
    raw_bucket          = "lakehouse-test-raw"
    curated_bucket      = "lakehouse-test-curated"
    curated_database    = "lakehouse_test_curated"
    elementary_database = "lakehouse_test_elementary"
    alerts_topic_arn    = "arn:aws:sns:us-east-1:123456789012:lakehouse-test-alerts"
    region              = "us-east-1"
  }
}

run "mwaa_environment" {
  command = plan

  assert {
    condition     = aws_mwaa_environment.this.airflow_version == "3.3.1"
    error_message = "Airflow 3.3.1 by default"
  }

  assert {
    condition     = aws_mwaa_environment.this.requirements_s3_path == "requirements.txt" && aws_mwaa_environment.this.source_bucket_arn == "arn:aws:s3:::lakehouse-test-mwaa"
    error_message = "the source objects given are read from the source bucket"
  }

  assert {
    condition     = aws_mwaa_environment.this.webserver_access_mode == "PRIVATE_ONLY"
    error_message = "the web server is private"
  }

  assert {
    condition     = aws_mwaa_environment.this.kms_key == var.storage.kms_key.arn
    error_message = "the environment is encrypted with the CMK"
  }

  assert {
    condition = alltrue([
      aws_mwaa_environment.this.logging_configuration[0].dag_processing_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].scheduler_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].task_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].webserver_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].worker_logs[0].enabled,
    ])
    error_message = "all five log types are enabled"
  }

  assert {
    condition     = aws_mwaa_environment.this.airflow_configuration_options["secrets.backend"] == "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    error_message = "Secrets Manager is the secrets backend"
  }

  assert {
    condition = jsondecode(aws_mwaa_environment.this.airflow_configuration_options["secrets.backend_kwargs"]) == {
      variables_prefix   = "airflow/variables"
      connections_prefix = "airflow/connections"
    }
    error_message = "secrets backend prefixes"
  }

  assert {
    condition     = aws_mwaa_environment.this.airflow_configuration_options["operators.default_deferrable"] == "True"
    error_message = "operators defer by default"
  }

  assert {
    condition = (
      length(aws_mwaa_environment.this.airflow_configuration_options) == length(local.airflow_configuration_file.every_airflow) + length(local.airflow_configuration_file.mwaa_only)
      && alltrue([
        for option, value in merge(local.airflow_configuration_file.every_airflow, local.airflow_configuration_file.mwaa_only) :
        lookup(aws_mwaa_environment.this.airflow_configuration_options, option, null) == value
      ])
    )
    error_message = "MWAA gets exactly the options of mwaa/airflow_configuration.yaml"
  }

  assert {
    condition     = tonumber(aws_mwaa_environment.this.airflow_configuration_options["lakehouse.max_active_runs"]) > 1
    error_message = "runs of different intervals may overlap (the DAG's max_active_runs)"
  }

  assert {
    condition     = aws_secretsmanager_secret.lakehouse_config.name == "airflow/variables/lakehouse_config"
    error_message = "the Variable lakehouse_config is served by the secrets backend"
  }

  assert {
    condition     = tomap(jsondecode(aws_secretsmanager_secret_version.lakehouse_config.secret_string)) == var.lakehouse_config
    error_message = "the Variable holds lakehouse_config as JSON"
  }

  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "FollowExecutions"])) == toset([
      var.state_machine.arn,
      "arn:aws:states:us-east-1:123456789012:execution:lakehouse-test-lakehouse-raw-to-curated:*",
    ])
    error_message = "execution permissions are limited to the state machine and its executions"
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "RawCrawler"])) == toset(["arn:aws:glue:us-east-1:123456789012:crawler/lakehouse-test-raw"])
    error_message = "crawler permissions are limited to the raw crawler"
  }
}

run "requires_two_subnets" {
  command = plan

  variables {
    subnet_ids = ["subnet-aaaa"]
  }

  expect_failures = [var.subnet_ids]
}

run "rejects_a_lakehouse_config_without_the_contract_s_keys" {
  command = plan

  variables {
    lakehouse_config = {
      pipeline = "lakehouse_raw_to_curated"
    }
  }

  expect_failures = [var.lakehouse_config]
}

run "runs_on_arrival_read_their_queue" {
  command = plan

  variables {
    raw_arrivals_queue = {
      arn = "arn:aws:sqs:us-east-1:123456789012:lakehouse-test-raw-arrivals"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/lakehouse-test-raw-arrivals"
    }
  }

  assert {
    condition     = aws_mwaa_environment.this.airflow_configuration_options["lakehouse.raw_arrivals_queue_url"] == var.raw_arrivals_queue.url
    error_message = "MWAA gets the queue's URL, which turns the on-arrival DAG on"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "RawArrivalsQueue"])) == toset([var.raw_arrivals_queue.arn]) &&
      contains(one([for s in data.aws_iam_policy_document.execution.statement : s.actions if s.sid == "RawArrivalsQueue"]), "sqs:DeleteMessage")
    )
    error_message = "the execution role receives and deletes that queue's messages, and no other's"
  }
}
