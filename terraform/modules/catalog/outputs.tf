output "databases" {
  description = "Glue databases by zone (raw, crawled, curated, elementary): { name, arn }."
  value       = { for zone, db in aws_glue_catalog_database.this : zone => { name = db.name, arn = db.arn } }
}

output "raw_crawler" {
  description = "The raw crawler: { name, arn }."
  value       = { name = aws_glue_crawler.raw.name, arn = aws_glue_crawler.raw.arn }
}

output "crawler_role" {
  description = "The crawler's IAM role: { name, arn }."
  value       = { name = aws_iam_role.crawler.name, arn = aws_iam_role.crawler.arn }
}

output "security_configuration" {
  description = "The Glue security configuration: { name }."
  value       = { name = aws_glue_security_configuration.this.name }
}
