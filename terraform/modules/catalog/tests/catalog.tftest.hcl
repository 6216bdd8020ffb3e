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
    raw_database         = "lakehouse_test_raw"
    crawled_database     = "lakehouse_test_raw_crawled"
    curated_database     = "lakehouse_test_curated"
    elementary_database  = "lakehouse_test_elementary"
    raw_crawler          = "lakehouse-test-raw"
    crawler_role         = "lakehouse-test-crawler"
    glue_security_config = "lakehouse-test-glue"
  }
  storage = {
    buckets = {
      raw     = { id = "lakehouse-test-raw", arn = "arn:aws:s3:::lakehouse-test-raw" }
      curated = { id = "lakehouse-test-curated", arn = "arn:aws:s3:::lakehouse-test-curated" }
    }
    kms_key = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  datasets = ["events", "users"]
}

run "databases_and_incremental_crawler" {
  command = plan

  assert {
    condition     = toset([for d in aws_glue_catalog_database.this : d.name]) == toset(["lakehouse_test_raw", "lakehouse_test_raw_crawled", "lakehouse_test_curated", "lakehouse_test_elementary"])
    error_message = "raw, crawled, curated and elementary databases"
  }

  assert {
    condition     = aws_glue_catalog_database.this["curated"].location_uri == "s3://lakehouse-test-curated/lakehouse_test_curated/"
    error_message = "curated database lives under its prefix of the curated bucket (as locally)"
  }

  assert {
    condition = alltrue([for d in aws_glue_catalog_database.this :
      one(d.create_table_default_permission[0].principal).data_lake_principal_identifier == "IAM_ALLOWED_PRINCIPALS"
    && d.create_table_default_permission[0].permissions == toset(["ALL"])])
    error_message = "new tables of every database are governed by IAM (Lake Formation: IAM_ALLOWED_PRINCIPALS)"
  }

  assert {
    condition     = toset([for p in aws_lakeformation_permissions.iam_allowed_principals : "${p.principal}/${one(p.database).name}"]) == toset(["IAM_ALLOWED_PRINCIPALS/lakehouse_test_raw", "IAM_ALLOWED_PRINCIPALS/lakehouse_test_raw_crawled", "IAM_ALLOWED_PRINCIPALS/lakehouse_test_curated", "IAM_ALLOWED_PRINCIPALS/lakehouse_test_elementary"])
    error_message = "every database is pinned to IAM access in Lake Formation"
  }

  assert {
    condition     = aws_glue_crawler.raw.recrawl_policy[0].recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY"
    error_message = "the raw crawler only crawls new folders"
  }

  assert {
    condition     = aws_glue_crawler.raw.schema_change_policy[0].update_behavior == "LOG" && aws_glue_crawler.raw.schema_change_policy[0].delete_behavior == "LOG"
    error_message = "CRAWL_NEW_FOLDERS_ONLY requires SchemaChangePolicy LOG/LOG"
  }

  assert {
    condition     = [for t in aws_glue_crawler.raw.s3_target : t.path] == ["s3://lakehouse-test-raw/events/", "s3://lakehouse-test-raw/users/"]
    error_message = "the crawler reads events/ and users/ of the raw bucket"
  }

  assert {
    condition     = aws_glue_crawler.raw.database_name == "lakehouse_test_raw_crawled"
    error_message = "the crawler writes its own database, not the lines tables' one"
  }

  assert {
    condition     = aws_glue_crawler.raw.security_configuration == "lakehouse-test-glue"
    error_message = "the crawler uses the security configuration"
  }

  assert {
    condition     = aws_glue_security_configuration.this.encryption_configuration[0].s3_encryption[0].s3_encryption_mode == "SSE-KMS"
    error_message = "Glue writes with the CMK"
  }
}

run "raw_lines_tables_read_every_line_as_text" {
  command = plan

  assert {
    condition     = toset(keys(aws_glue_catalog_table.raw_lines)) == toset(["events", "users"])
    error_message = "one lines table per raw prefix"
  }

  assert {
    condition     = aws_glue_catalog_table.raw_lines["events"].name == "events_lines" && aws_glue_catalog_table.raw_lines["events"].storage_descriptor[0].columns[0].name == "line"
    error_message = "events_lines has a single string column `line`"
  }

  assert {
    condition     = aws_glue_catalog_table.raw_lines["events"].parameters["storage.location.template"] == "s3://lakehouse-test-raw/events/dt=$${dt}/"
    error_message = "partition projection on dt over the same prefix as the crawler"
  }

  assert {
    condition     = aws_glue_catalog_table.raw_lines["events"].parameters["projection.dt.range"] == "2020-01-01,NOW+1DAYS"
    error_message = "the projection admits today's and tomorrow's partitions (a day may land before it starts in UTC)"
  }
}

run "requires_the_raw_and_curated_buckets" {
  command = plan

  variables {
    storage = {
      buckets = { raw = { id = "lakehouse-test-raw", arn = "arn:aws:s3:::lakehouse-test-raw" } }
      kms_key = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
    }
  }

  expect_failures = [var.storage]
}
