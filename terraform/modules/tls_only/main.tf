# One policy statement, shared by every resource policy: deny any request made without TLS.
# Callers merge `json` into their own document (source_policy_documents).
data "aws_iam_policy_document" "this" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["${var.service}:*"]
    resources = var.resources
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
