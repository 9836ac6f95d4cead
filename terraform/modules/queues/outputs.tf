output "arns" {
  description = "Queue ARN by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "urls" {
  description = "Queue URL by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.id }
}

output "names" {
  description = "Queue name by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}
