# Non-HTTP triggers of agent_executor: an inbox bucket (ObjectCreated), an inbound SNS topic,
# and a schedule.
resource "aws_s3_bucket" "inbox" {
  # checkov:skip=CKV_AWS_144:Cross-region replication is a per-organisation choice, not a default.
  # checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket per account; CloudTrail data events cover audit.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "inbox" {
  bucket                  = aws_s3_bucket.inbox.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# TLS only: any request over plain HTTP is denied, whoever makes it.
module "tls_only" {
  source    = "../tls_only"
  service   = "s3"
  resources = [aws_s3_bucket.inbox.arn, "${aws_s3_bucket.inbox.arn}/*"]
}

resource "aws_s3_bucket_policy" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  policy = module.tls_only.json
  # A Deny-only policy is not public, but S3 checks the public access block first.
  depends_on = [aws_s3_bucket_public_access_block.inbox]
}

resource "aws_s3_bucket_versioning" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  rule {
    id     = "expire-processed-messages"
    status = "Enabled"
    filter {}
    expiration {
      days = var.inbox_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_lambda_permission" "s3" {
  statement_id   = "s3-inbox"
  action         = "lambda:InvokeFunction"
  function_name  = var.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.inbox.arn
  source_account = var.account_id
}

resource "aws_s3_bucket_notification" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  lambda_function {
    lambda_function_arn = var.function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "conversations/"
  }
  depends_on = [aws_lambda_permission.s3]
}

resource "aws_sns_topic" "inbound" {
  name              = "${var.prefix}-inbound"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "sns-inbound"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.inbound.arn
}

resource "aws_sns_topic_subscription" "inbound" {
  topic_arn = aws_sns_topic.inbound.arn
  protocol  = "lambda"
  endpoint  = var.function_arn
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.prefix}-schedule"
  description         = "Scheduled agent run"
  schedule_expression = var.schedule_expression
  state               = var.schedule_enabled ? "ENABLED" : "DISABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "agent-executor"
  arn       = var.function_arn
  input = jsonencode({
    schedule = {
      name            = "${var.prefix}-schedule"
      message         = var.schedule_message
      conversation_id = "${var.prefix}-schedule"
    }
  })
  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 4
  }
  dead_letter_config {
    arn = var.schedule_dlq_arn
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "events-schedule"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}
