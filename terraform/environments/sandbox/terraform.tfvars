# Example values for a sandbox account. Push the dbt runtime image first (see README.md).
region      = "us-east-1"
prefix      = "lakehouse"
environment = "sandbox"
image_tag   = "0.1.0"

# Use an existing VPC instead of creating one:
# vpc_id             = "vpc-0123456789abcdef0"
# private_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
# security_group_ids = ["sg-0123456789abcdef0"]

# Also start runs when raw files land (S3 -> SQS -> lakehouse_raw_to_curated_on_arrival):
# start_on_arrival = true

alert_emails  = []
force_destroy = true

tags = {
  Owner = "data-platform"
}
