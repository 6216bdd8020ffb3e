output "workgroup" {
  description = "The Athena workgroup dbt uses: { name, arn, output_location (s3://<bucket>/) }."
  value = {
    name            = aws_athena_workgroup.this.name
    arn             = aws_athena_workgroup.this.arn
    output_location = "s3://${var.storage.buckets["query_results"].id}/"
  }
}
