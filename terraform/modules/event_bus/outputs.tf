output "name" {
  description = "Bus name."
  value       = aws_cloudwatch_event_bus.this.name
}

output "arn" {
  description = "Bus ARN."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "rule_arns" {
  description = "Rule ARN by key."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.arn }
}
