output "database_names" {
  description = "Glue database names by zone: raw, crawled, curated, elementary."
  value       = { for zone, db in aws_glue_catalog_database.this : zone => db.name }
}

output "raw_crawler_name" {
  description = "Name of the raw crawler."
  value       = aws_glue_crawler.raw.name
}

output "raw_crawler_arn" {
  description = "ARN of the raw crawler."
  value       = aws_glue_crawler.raw.arn
}

output "crawler_role_arn" {
  description = "ARN of the crawler's IAM role."
  value       = aws_iam_role.crawler.arn
}

output "security_configuration_name" {
  description = "Name of the Glue security configuration."
  value       = aws_glue_security_configuration.this.name
}
