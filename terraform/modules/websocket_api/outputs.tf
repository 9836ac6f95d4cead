output "api_id" {
  description = "WebSocket API id."
  value       = aws_apigatewayv2_api.this.id
}

output "url" {
  description = "wss:// URL clients connect to (?token=<JWT>)."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/${var.stage}"
}

output "management_endpoint" {
  description = "The stage's management API (post_to_connection)."
  value       = aws_ssm_parameter.endpoint.value
}

output "connections_arn" {
  description = "ARN pattern of the stage's connections (execute-api:ManageConnections)."
  value       = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage}/POST/@connections/*"
}
