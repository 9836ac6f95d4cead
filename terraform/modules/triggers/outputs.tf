output "bucket_name" {
  description = "Inbox bucket."
  value       = aws_s3_bucket.inbox.bucket
}

output "bucket_arn" {
  description = "Inbox bucket ARN."
  value       = aws_s3_bucket.inbox.arn
}

output "inbound_topic_arn" {
  description = "Inbound SNS topic."
  value       = aws_sns_topic.inbound.arn
}

output "schedule_rule_arn" {
  description = "Schedule rule ARN."
  value       = aws_cloudwatch_event_rule.schedule.arn
}
