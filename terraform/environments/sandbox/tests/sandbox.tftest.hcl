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
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
}

override_resource {
  target          = module.workflow.aws_sfn_state_machine.this
  override_during = plan
  values = {
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:lakehouse-sandbox-lakehouse-raw-to-curated"
  }
}

override_resource {
  target          = module.notifications.aws_sns_topic.alerts
  override_during = plan
  values = {
    arn = "arn:aws:sns:us-east-1:123456789012:lakehouse-sandbox-alerts"
  }
}

variables {
  image_tag = "0.1.0"
  # Any file stands in for the built archive in a plan.
  plugins_zip = "README.md"
}

run "whole_environment" {
  command = plan

  assert {
    condition = output.lakehouse_config == {
      pipeline            = "lakehouse_raw_to_curated"
      state_machine_arn   = "arn:aws:states:us-east-1:123456789012:stateMachine:lakehouse-sandbox-lakehouse-raw-to-curated"
      runs_table          = "lakehouse-sandbox-runs"
      raw_crawler         = "lakehouse-sandbox-raw"
      raw_bucket          = "lakehouse-sandbox-raw-123456789012"
      curated_bucket      = "lakehouse-sandbox-curated-123456789012"
      curated_database    = "lakehouse_sandbox_curated"
      elementary_database = "lakehouse_sandbox_elementary"
      alerts_topic_arn    = "arn:aws:sns:us-east-1:123456789012:lakehouse-sandbox-alerts"
      region              = "us-east-1"
    }
    error_message = "lakehouse_config has the local stack's keys, with this environment's names"
  }

  assert {
    condition     = length(module.network) == 1
    error_message = "without vpc_id a network is created"
  }

  assert {
    condition     = length(module.arrivals) == 0 && output.raw_arrivals_queue == null
    error_message = "runs on arrival are off by default"
  }

  assert {
    condition     = aws_s3_object.requirements.key == "requirements.txt" && length(aws_s3_object.dags) > 0
    error_message = "requirements.txt and the DAGs are uploaded to the MWAA bucket"
  }

  assert {
    condition     = aws_s3_object.startup.key == "startup.sh" && module.orchestration.environment_name != ""
    error_message = "the startup script is uploaded and given to MWAA"
  }
}

run "plain_names_without_suffix_and_existing_vpc" {
  command = plan

  variables {
    bucket_suffix      = ""
    vpc_id             = "vpc-0123456789abcdef0"
    private_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    security_group_ids = ["sg-0123456789abcdef0"]
  }

  assert {
    condition     = output.names.raw_bucket == "lakehouse-sandbox-raw" && output.lakehouse_config.curated_bucket == "lakehouse-sandbox-curated"
    error_message = "an empty bucket_suffix keeps local/naming.py's plain names"
  }

  assert {
    condition     = length(module.network) == 0
    error_message = "an existing VPC is used as given"
  }
}

run "start_on_arrival" {
  command = plan

  variables {
    start_on_arrival = true
  }

  assert {
    condition     = length(module.arrivals) == 1
    error_message = "start_on_arrival creates the queue and the raw bucket's notification"
  }
}

run "refuses_to_plan_without_plugins_zip" {
  command = plan

  variables {
    plugins_zip = "no-such-plugins.zip"
  }

  expect_failures = [aws_s3_object.plugins]
}
