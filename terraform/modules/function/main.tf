# One Lambda function with its own role. The policy is built from the exact resources the
# function needs (var.statements); the only "*" resource is X-Ray's, which has no resource ARNs.
data "aws_partition" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.name}"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [var.dead_letter_queue_arn]
  }
  dynamic "statement" {
    for_each = var.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:Talks only to AWS service endpoints; no VPC resources to reach.
  # checkov:skip=CKV_AWS_272:Code signing needs a Signer profile per account; out of scope here.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  layers                         = var.layer_arns
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    # The layer's botocore keeps only the service models the framework uses (build.py
    # LAMBDA_DATA_PATH): botocore searches AWS_DATA_PATH before its own data, so the layer's
    # (pinned) models come first, then the runtime SDK's for every other service.
    variables = merge({
      AWS_DATA_PATH = join(":", [
        "/opt/python/botocore/data",
        "/var/lang/lib/${var.runtime}/site-packages/botocore/data",
        "/var/runtime/botocore/data",
      ])
    }, var.environment)
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = var.dead_letter_queue_arn
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.this]
}

# Asynchronous invocations (EventBridge, S3, SNS, schedules): bounded age and retries; what
# still fails lands in the dead-letter queue above.
resource "aws_lambda_function_event_invoke_config" "this" {
  count                        = var.async ? 1 : 0
  function_name                = aws_lambda_function.this.function_name
  maximum_event_age_in_seconds = var.max_event_age_s
  maximum_retry_attempts       = var.max_retry_attempts
}
