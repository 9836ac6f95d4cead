output "arns" {
  description = "Queue ARN by key (the drained dead-letter queues)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "urls" {
  description = "Queue URL by key, plus `unprocessable` (the terminal queue)."
  value       = merge({ for k, q in aws_sqs_queue.dlq : k => q.id }, { unprocessable = aws_sqs_queue.terminal.id })
}

output "names" {
  description = "Queue name by key, plus `unprocessable` (the terminal queue)."
  value       = merge({ for k, q in aws_sqs_queue.dlq : k => q.name }, { unprocessable = aws_sqs_queue.terminal.name })
}

output "terminal_arn" {
  description = "The terminal queue: dead letters dlq_handler could not process."
  value       = aws_sqs_queue.terminal.arn
}
