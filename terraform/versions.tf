terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
  # One state per workspace: `terraform workspace select <name>`; configure a remote backend
  # (S3 + lock) for shared deployments, e.g. with `-backend-config`.
}

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}
