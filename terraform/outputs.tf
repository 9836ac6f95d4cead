output "api_url" {
  description = "HTTP API base URL."
  value       = module.http_api.url
}

output "event_bus_name" {
  description = "EventBridge bus."
  value       = module.event_bus.name
}

output "table_name" {
  description = "DynamoDB single table."
  value       = module.memory_table.name
}

output "alerts_topic_arn" {
  description = "SNS topic for alerts."
  value       = module.alerts.alerts_topic_arn
}

output "approvals_topic_arn" {
  description = "SNS topic for approval notices."
  value       = module.alerts.approvals_topic_arn
}

output "inbound_topic_arn" {
  description = "SNS topic whose messages start agent runs."
  value       = module.triggers.inbound_topic_arn
}

output "inbox_bucket" {
  description = "S3 bucket whose conversations/<id>/ objects start agent runs."
  value       = module.triggers.bucket_name
}

output "function_names" {
  description = "Lambda function names by role."
  value       = { for k, f in module.functions : k => f.name }
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queue URL by key."
  value       = module.queues.urls
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.dashboard.dashboard_name
}

output "api_id" {
  description = "HTTP API id (the local API front serves its routes)."
  value       = module.http_api.api_id
}

output "websocket_api_id" {
  description = "WebSocket API id (the local WebSocket front serves its routes)."
  value       = module.websocket_api.api_id
}

output "websocket_url" {
  description = "WebSocket API URL: wss://.../live?token=<JWT> (the console's config.json `ws`)."
  value       = module.websocket_api.url
}
