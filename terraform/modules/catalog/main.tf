data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  glue_arn   = "arn:${local.partition}:glue:${local.region}:${local.account_id}"

  # The same locations as local/provision.py: raw at the bucket root, curated and Elementary
  # databases under their own prefix of the curated bucket.
  #
  # The raw crawler writes a database of its own (`crawled`), which holds no table Terraform
  # defines. A crawler that finds, in the database it writes, a table whose location is the
  # folder it crawls (or a folder above or below it) updates that table and adds partitions to
  # it instead of creating its own: over `raw`, it would adopt events_lines and users_lines
  # (their location is the crawler's folder) and never create `events` or `users`. Exclusions
  # cannot help (an exclusion of the whole folder excludes everything), nor catalog targets
  # (the crawler would then rewrite the lines tables' schema and SerDe from the JSON it reads).
  # tests/infra/test_crawler_paths.py fails when a crawler's folder overlaps the location of a
  # table in the database it writes.
  databases = {
    raw        = { name = var.names.raw_database, location = "s3://${local.raw_bucket.id}/" }
    crawled    = { name = var.names.crawled_database, location = "s3://${local.raw_bucket.id}/" }
    curated    = { name = var.names.curated_database, location = "s3://${local.curated_bucket.id}/${var.names.curated_database}/" }
    elementary = { name = var.names.elementary_database, location = "s3://${local.curated_bucket.id}/${var.names.elementary_database}/" }
  }
  raw_bucket     = var.storage.buckets["raw"]
  curated_bucket = var.storage.buckets["curated"]
}

resource "aws_glue_catalog_database" "this" {
  for_each = local.databases

  name         = each.value.name
  location_uri = each.value.location
  description  = "Lakehouse ${each.key} zone"
  tags         = var.tags

  # Lake Formation: every table created here (by Terraform, the crawler, dbt-athena's CTAS)
  # is governed by IAM alone, also in an account whose Data Catalog settings no longer grant
  # IAM_ALLOWED_PRINCIPALS by default; the roles' IAM policies are the whole access control.
  create_table_default_permission {
    permissions = ["ALL"]
    principal {
      data_lake_principal_identifier = "IAM_ALLOWED_PRINCIPALS"
    }
  }
}

# The databases themselves, pinned to IAM access the same way (the grant an account with Lake
# Formation's defaults gives every new database, made explicit for one without them).
resource "aws_lakeformation_permissions" "iam_allowed_principals" {
  for_each = local.databases

  principal   = "IAM_ALLOWED_PRINCIPALS"
  permissions = ["ALL"]

  database {
    name = aws_glue_catalog_database.this[each.key].name
  }
}

resource "aws_glue_security_configuration" "this" {
  name = var.names.glue_security_config

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.storage.kms_key.arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.storage.kms_key.arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.storage.kms_key.arn
    }
  }
}

################################################################################
# Raw crawler
################################################################################

data "aws_iam_policy_document" "crawler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "crawler" {
  name               = var.names.crawler_role
  assume_role_policy = data.aws_iam_policy_document.crawler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid       = "ListRawBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.raw_bucket.arn]
  }

  statement {
    sid       = "ReadRawObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.raw_bucket.arn}/*"]
  }

  statement {
    sid = "WriteRawCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:BatchGetPartition",
      "glue:UpdatePartition",
      "glue:BatchUpdatePartition",
      "glue:GetSecurityConfiguration",
    ]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${var.names.crawled_database}",
      "${local.glue_arn}:table/${var.names.crawled_database}/*",
    ]
  }

  statement {
    sid       = "CrawlerLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/crawlers*"]
  }

  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.storage.kms_key.arn]
  }
}

resource "aws_iam_role_policy" "crawler" {
  name   = "raw-crawler"
  role   = aws_iam_role.crawler.id
  policy = data.aws_iam_policy_document.crawler.json
}

resource "aws_glue_crawler" "raw" {
  name                   = var.names.raw_crawler
  role                   = aws_iam_role.crawler.arn
  database_name          = aws_glue_catalog_database.this["crawled"].name
  security_configuration = aws_glue_security_configuration.this.name
  schedule               = var.crawler_schedule
  description            = "Raw zone crawler: new dt= partitions only"
  tags                   = var.tags

  dynamic "s3_target" {
    for_each = var.datasets
    content {
      path = "s3://${local.raw_bucket.id}/${s3_target.value}/"
    }
  }

  # Incremental crawls: only folders added since the last crawl are read. AWS requires the
  # schema change policy to be LOG/LOG with CRAWL_NEW_FOLDERS_ONLY.
  recrawl_policy {
    recrawl_behavior = "CRAWL_NEW_FOLDERS_ONLY"
  }

  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  configuration = jsonencode({
    Version = 1.0
    Grouping = {
      TableGroupingPolicy = "CombineCompatibleSchemas"
    }
    CreatePartitionIndex = true
  })
}

################################################################################
# Raw lines tables: every raw line as text (the crawled tables are in a database of their own)
################################################################################

# dbt parses and validates the raw JSON itself (staging), so that a bad line is quarantined
# instead of failing the query: Athena's JSON SerDe would fail the whole scan on a malformed
# line. One string column per line (\u0001 never appears unescaped in valid JSON), partition
# projection on dt so a new day is readable without a crawl. The crawled tables stay for
# discovery (schema, new fields); no model reads them.
resource "aws_glue_catalog_table" "raw_lines" {
  for_each = toset(var.datasets)

  name          = "${each.key}_lines"
  database_name = aws_glue_catalog_database.this["raw"].name
  description   = "Raw ${each.key} as text lines (one row per line of the JSONL files)"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                      = "TRUE"
    classification                = "text"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "2020-01-01,NOW+1DAYS"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "s3://${local.raw_bucket.id}/${each.key}/dt=$${dt}/"
  }

  partition_keys {
    name = "dt"
    type = "string"
  }

  storage_descriptor {
    location      = "s3://${local.raw_bucket.id}/${each.key}/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
      parameters = {
        "field.delim"          = "\u0001"
        "serialization.format" = "\u0001"
      }
    }

    columns {
      name = "line"
      type = "string"
    }
  }
}
