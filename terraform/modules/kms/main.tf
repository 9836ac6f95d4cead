# One customer managed key for the deployment's data at rest: the table, SNS topics, log groups
# and Lambda environment variables. Its policy lets the services that encrypt with it do so.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account      = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  account_root = "arn:${local.partition}:iam::${local.account}:root"
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_109:A key policy must let the account administer its own key (AWS default key policy).
  # checkov:skip=CKV_AWS_111:Same: the account-root statement is the default key policy; IAM policies then scope use.
  # checkov:skip=CKV_AWS_356:In a key policy "*" as resource means this key only.
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }
  # CloudWatch Logs: only for log groups of this account (its documented condition key).
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:Encrypt", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
    }
  }
  # Alarms publishing to the encrypted topics, the encrypted event bus, SNS itself: each only
  # on behalf of this account (confused-deputy protection).
  statement {
    sid       = "ServicesOfThisAccount"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
        "sns.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
