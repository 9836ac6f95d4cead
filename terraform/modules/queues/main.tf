# Dead-letter queues: one per EventBridge target and one per asynchronously invoked function.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

resource "aws_sqs_queue" "dlq" {
  for_each                  = var.queues
  name                      = "${var.prefix}-${each.key}-dlq"
  message_retention_seconds = var.message_retention_seconds
  sqs_managed_sse_enabled   = true
  # These queues only receive dead letters; no source queue may use them as its DLQ.
  redrive_allow_policy = jsonencode({ redrivePermission = "denyAll" })
  tags                 = var.tags
}

data "aws_iam_policy_document" "dlq" {
  for_each = aws_sqs_queue.dlq
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/${var.prefix}*"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each  = aws_sqs_queue.dlq
  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}
