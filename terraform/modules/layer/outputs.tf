output "arn" {
  description = "Layer version ARN."
  value       = aws_lambda_layer_version.this.arn
}
