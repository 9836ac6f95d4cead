# The custom bus, its archive, and content-based rules -> Lambda targets with retry policies
# and a dead-letter queue per target.
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
  target_id      = each.value.function_name
  arn            = each.value.function_arn

  retry_policy {
    maximum_event_age_in_seconds = var.max_event_age_s
    maximum_retry_attempts       = var.max_retry_attempts
  }

  dead_letter_config {
    arn = each.value.dlq_arn
  }
}

resource "aws_lambda_permission" "this" {
  for_each      = var.rules
  statement_id  = "events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}

# Catch-all rules: events that no rule above routes (e.g. an undeclared action type) go to a
# queue that dlq_handler drains (failure record + alert) instead of vanishing.
resource "aws_cloudwatch_event_rule" "unrouted" {
  for_each       = var.unrouted_rules
  name           = "${var.name}-${each.key}"
  description    = each.value.description
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = each.value.pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "unrouted" {
  for_each       = var.unrouted_rules
  rule           = aws_cloudwatch_event_rule.unrouted[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "unrouted"
  arn            = each.value.queue_arn

  retry_policy {
    maximum_event_age_in_seconds = var.max_event_age_s
    maximum_retry_attempts       = var.max_retry_attempts
  }

  dead_letter_config {
    arn = var.dlq_arn
  }
}
