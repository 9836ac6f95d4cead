# Bootstrap: the S3 bucket that holds the Terraform state of every AgentoCore workspace in one
# account (versioned, KMS-encrypted, TLS only, never public). Applied once per account with a
# local state (this folder's own state is tiny and recreatable):
#   terraform -chdir=terraform/bootstrap init && terraform -chdir=terraform/bootstrap apply
# then put the `bucket` output into terraform/backends/<workspace>.s3.tfbackend.
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}

variable "region" {
  description = "Region of the state bucket."
  type        = string
  default     = "us-east-1"
}

variable "allowed_account_ids" {
  description = "Accounts this bootstrap may run in (empty: any)."
  type        = list(string)
  default     = []
}

provider "aws" {
  region              = var.region
  allowed_account_ids = length(var.allowed_account_ids) > 0 ? var.allowed_account_ids : null
  default_tags {
    tags = { project = "agentocore", purpose = "terraform-state" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  bucket = "agentocore-tfstate-${data.aws_caller_identity.current.account_id}-${var.region}"
}

data "aws_partition" "current" {}

# The account administers and uses the key through IAM (the default key policy, written out);
# S3 uses it on behalf of the callers that read and write state.
data "aws_iam_policy_document" "state_key" {
  # checkov:skip=CKV_AWS_109:A key policy must let the account administer its own key (AWS default key policy).
  # checkov:skip=CKV_AWS_111:Same: the account-root statement is the default key policy; IAM policies then scope use.
  # checkov:skip=CKV_AWS_356:In a key policy "*" as resource means this key only.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "state" {
  description             = "agentocore terraform state"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.state_key.json
}

resource "aws_kms_alias" "state" {
  name          = "alias/agentocore-tfstate"
  target_key_id = aws_kms_key.state.key_id
}

resource "aws_s3_bucket" "state" {
  # checkov:skip=CKV_AWS_144:Cross-region replication of state is an organisation-level choice.
  # checkov:skip=CKV_AWS_18:Access logging needs a log bucket per account; CloudTrail data events cover audit.
  # checkov:skip=CKV2_AWS_62:Nothing consumes state-bucket events.
  bucket = local.bucket
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.state.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

module "tls_only" {
  source    = "../modules/tls_only"
  service   = "s3"
  resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
}

resource "aws_s3_bucket_policy" "state" {
  bucket     = aws_s3_bucket.state.id
  policy     = module.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.state]
}

output "bucket" {
  description = "State bucket: the `bucket` of backends/<workspace>.s3.tfbackend."
  value       = aws_s3_bucket.state.bucket
}

output "kms_key_arn" {
  description = "Key that encrypts the state objects."
  value       = aws_kms_key.state.arn
}
