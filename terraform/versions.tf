terraform {
  # 1.10: the S3 backend's native state locking (use_lockfile), no DynamoDB lock table.
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
  # Remote state in S3 (bucket from bootstrap/), one state object per workspace under
  # env:/<workspace>/. Settings come from backends/<name>.s3.tfbackend:
  #   terraform init -reconfigure -backend-config=backends/dev.s3.tfbackend
  # The local stack overrides this with a local backend (localstack_backend_override.tf).
  backend "s3" {}
}

provider "aws" {
  region = var.region
  # The provider refuses to act in any other account (e.g. dev settings against prod).
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null
  default_tags {
    tags = local.tags
  }
}
