output "api_id" {
  description = "API id."
  value       = aws_apigatewayv2_api.this.id
}

output "url" {
  description = "Invoke URL of the default stage."
  value       = aws_apigatewayv2_stage.default.invoke_url
}
