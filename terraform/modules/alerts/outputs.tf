output "alerts_topic_arn" {
  description = "Alerts topic ARN."
  value       = aws_sns_topic.this["alerts"].arn
}

output "approvals_topic_arn" {
  description = "Approvals topic ARN."
  value       = aws_sns_topic.this["approvals"].arn
}
