# Consumers take these objects whole (e.g. `storage = module.storage`), so each names a
# resource by every attribute another module may need, never by a per-resource output.

output "buckets" {
  description = "The zones' buckets by zone (raw, curated, query_results, mwaa): { id = name, arn }."
  # id is the configured name, known at plan time (aws_s3_bucket.id is only known after apply).
  value = { for zone, bucket in aws_s3_bucket.this : zone => { id = bucket.bucket, arn = bucket.arn } }
}

output "access_logs_bucket" {
  description = "The S3 access logs bucket: { id = name, arn }."
  value       = { id = aws_s3_bucket.access_logs.bucket, arn = aws_s3_bucket.access_logs.arn }
}

output "kms_key" {
  description = "The customer managed KMS key: { arn, id, alias }."
  value       = { arn = aws_kms_key.this.arn, id = aws_kms_key.this.key_id, alias = aws_kms_alias.this.name }
}
