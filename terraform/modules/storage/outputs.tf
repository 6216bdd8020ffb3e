output "kms_key_arn" {
  description = "ARN of the customer managed KMS key."
  value       = aws_kms_key.this.arn
}

output "kms_key_id" {
  description = "Id of the customer managed KMS key."
  value       = aws_kms_key.this.key_id
}

output "bucket_ids" {
  description = "Bucket names by zone: raw, curated, query_results, mwaa."
  value       = { for zone, bucket in aws_s3_bucket.this : zone => bucket.bucket }
}

output "bucket_arns" {
  description = "Bucket ARNs by zone: raw, curated, query_results, mwaa."
  value       = { for zone, bucket in aws_s3_bucket.this : zone => bucket.arn }
}

output "raw_bucket_arn" {
  description = "ARN of the raw bucket."
  value       = aws_s3_bucket.this["raw"].arn
}

output "curated_bucket_arn" {
  description = "ARN of the curated bucket."
  value       = aws_s3_bucket.this["curated"].arn
}

output "query_results_bucket_arn" {
  description = "ARN of the Athena query results bucket."
  value       = aws_s3_bucket.this["query_results"].arn
}

output "mwaa_bucket_arn" {
  description = "ARN of the MWAA source bucket."
  value       = aws_s3_bucket.this["mwaa"].arn
}

output "access_logs_bucket_id" {
  description = "Name of the S3 access logs bucket."
  value       = aws_s3_bucket.access_logs.id
}
