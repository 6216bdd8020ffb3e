# The naming rule is data (contracts/naming.json), read here and by lakehouse_ops/naming.py: one rule,
# two readers. tests/infra/test_naming.py evaluates this module with `terraform console`.

locals {
  rule     = jsondecode(file("${path.module}/../../../contracts/naming.json"))
  pipeline = local.rule.pipeline
  dash     = "${var.prefix}-${var.environment}"
  under    = replace(local.dash, "-", "_")
  bucket   = var.bucket_suffix == "" ? "" : "-${var.bucket_suffix}"

  # Terraform has no named-placeholder format(): each placeholder is replaced in turn (no value
  # can contain one, the patterns forbid braces).
  expand = {
    for group in ["names", "aws_only_names"] : group => {
      for key, template in local.rule[group] : key => replace(replace(replace(replace(template,
        "{dash}", local.dash),
        "{under}", local.under),
        "{bucket}", local.bucket),
      "{pipeline}", replace(local.pipeline, "_", "-"))
    }
  }
  names     = local.expand.names
  aws_names = local.expand.aws_only_names
}
