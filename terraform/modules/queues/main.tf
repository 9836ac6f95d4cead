# Dead-letter queues: one per EventBridge target and one per asynchronously invoked function,
# each drained by dlq_handler. A dead letter that dlq_handler itself cannot process is moved
# after `max_receive_count` receives to the terminal queue, which no function reads: it keeps
# the message for 14 days and its depth alarm (dashboard module) tells a human.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  events = "${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
}

resource "aws_sqs_queue" "terminal" {
  name                      = "${var.prefix}-unprocessable-dlq"
  message_retention_seconds = var.message_retention_seconds
  sqs_managed_sse_enabled   = true
  # The drained queues below redrive here (more than the 10 ARNs `byQueue` can list).
  redrive_allow_policy = jsonencode({ redrivePermission = "allowAll" })
  tags                 = var.tags
}

resource "aws_sqs_queue" "dlq" {
  for_each                  = var.queues
  name                      = "${var.prefix}-${each.key}-dlq"
  message_retention_seconds = var.message_retention_seconds
  # AWS refuses an event source mapping whose queue's visibility timeout is below the
  # function's timeout; 6x the consumer's timeout is AWS's recommendation (room for retries).
  visibility_timeout_seconds = var.visibility_timeout_seconds
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.terminal.arn
    maxReceiveCount     = var.max_receive_count
  })
  # These queues only receive dead letters; no source queue may use them as its DLQ.
  redrive_allow_policy = jsonencode({ redrivePermission = "denyAll" })
  tags                 = var.tags
}

module "tls_only" {
  source    = "../tls_only"
  for_each  = aws_sqs_queue.dlq
  service   = "sqs"
  resources = [each.value.arn]
}

data "aws_iam_policy_document" "dlq" {
  for_each                = aws_sqs_queue.dlq
  source_policy_documents = [module.tls_only[each.key].json]
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
      values = [
        "arn:${local.events}:rule/${var.prefix}*",
        "arn:${local.events}:event-bus/${var.prefix}-bus",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each  = aws_sqs_queue.dlq
  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}
