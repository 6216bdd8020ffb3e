#!/usr/bin/env bash
# make deploy ENV=<env>: build and push the dbt runtime image, then apply Terraform, which
# uploads dags/, plugins.zip, requirements.txt and startup.sh to the MWAA bucket (each a new
# S3 object version) and points the MWAA environment and both Lambdas at them.
# Needs AWS credentials, docker and terraform. Nothing here is exercised in CI (no AWS account).
set -euo pipefail
env_name="${1:?usage: scripts/deploy.sh <environment>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tf_dir="$root/terraform/environments/$env_name"
[ -d "$tf_dir" ] || { echo "deploy: no Terraform environment at $tf_dir" >&2; exit 2; }
for tool in aws docker terraform; do
  command -v "$tool" >/dev/null || { echo "deploy: $tool is required" >&2; exit 2; }
done
tag="${IMAGE_TAG:-$(git -C "$root" rev-parse --short=12 HEAD)}"

terraform -chdir="$tf_dir" init -input=false
# The repository must exist before the image can be pushed, and the functions need the image.
terraform -chdir="$tf_dir" apply -input=false -auto-approve \
  -target=module.workflow.aws_ecr_repository.this
repo_url="$(terraform -chdir="$tf_dir" output -raw ecr_repository_url)"
registry="${repo_url%%/*}"
region="$(terraform -chdir="$tf_dir" output -raw region)"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker build --platform linux/amd64 -f "$root/lambdas/Dockerfile" -t "$repo_url:$tag" "$root"
docker push "$repo_url:$tag"

terraform -chdir="$tf_dir" apply -input=false -var "image_tag=$tag"
