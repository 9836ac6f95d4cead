# SNS topics: operational alerts (DLQ failures, alarms) and approval notices.
resource "aws_sns_topic" "this" {
  for_each          = toset(["alerts", "approvals"])
  name              = "${var.prefix}-${each.key}"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alert_emails" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.this["alerts"].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "approver_emails" {
  for_each  = toset(var.approver_emails)
  topic_arn = aws_sns_topic.this["approvals"].arn
  protocol  = "email"
  endpoint  = each.value
}
