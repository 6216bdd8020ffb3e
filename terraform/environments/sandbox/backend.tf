# Remote state: state stays local until you opt in. To keep it in S3 (with native locking),
# copy backend.hcl.example to backend.hcl, fill it in, uncomment the block below and run
#   terraform init -backend-config=backend.hcl -migrate-state
#
# terraform {
#   backend "s3" {}
# }
