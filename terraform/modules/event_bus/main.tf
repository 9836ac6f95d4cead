# The custom bus, its archive, and content-based rules -> targets (Lambda functions, or a queue
# for the catch-all of events no other rule routes) with retry policies and a DLQ per target.
resource "aws_cloudwatch_event_bus" "this" {
  name               = var.name
  kms_key_identifier = var.kms_key_arn
  # Events EventBridge cannot deliver for bus-level reasons (e.g. the key is unusable).
  dead_letter_config {
    arn = var.dlq_arn
  }
  tags = var.tags
}

# The archive uses an AWS owned key: provider 5.x has no kms_key_identifier for archives (6.x
# adds it; set it there to the bus key).
resource "aws_cloudwatch_event_archive" "this" {
  name             = var.name
  event_source_arn = aws_cloudwatch_event_bus.this.arn
  retention_days   = var.archive_retention_days
  description      = "Every event on ${var.name}, for replay and audit"
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each       = var.rules
  name           = "${var.name}-${each.key}"
  description    = each.value.description
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = each.value.pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each       = var.rules
  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = coalesce(each.value.function_name, each.key)
  arn            = each.value.target_arn

  retry_policy {
    maximum_event_age_in_seconds = var.max_event_age_s
    maximum_retry_attempts       = var.max_retry_attempts
  }

  dead_letter_config {
    arn = each.value.dlq_arn
  }
}

resource "aws_lambda_permission" "this" {
  for_each      = { for k, r in var.rules : k => r if r.function_name != null }
  statement_id  = "events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}

