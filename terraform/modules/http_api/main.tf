# API Gateway HTTP API: one Lambda proxy integration per function (each with its own role), a
# JWT authorizer on every route, access logs, throttling.
resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "AgentoCore HTTP API"
  tags          = var.tags

  # the web console served from another origin (console/README.md)
  dynamic "cors_configuration" {
    for_each = length(var.cors_origins) > 0 ? [1] : []
    content {
      allow_origins = var.cors_origins
      allow_methods = ["GET", "POST", "OPTIONS"]
      allow_headers = ["authorization", "content-type", "idempotency-key"]
      max_age       = 600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

locals {
  # route key -> the integration (function) serving it
  routes = merge([
    for name, integration in var.integrations : { for route in integration.routes : route => name }
  ]...)
}

resource "aws_apigatewayv2_integration" "this" {
  for_each               = var.integrations
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_ms
  description            = "${each.key}: ${join(", ", each.value.routes)}"
}

resource "aws_apigatewayv2_route" "this" {
  for_each           = local.routes
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value].id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttle_burst
    throttling_rate_limit  = var.throttle_rate
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      sub            = "$context.authorizer.claims.sub"
      latencyMs      = "$context.responseLatency"
      integrationErr = "$context.integrationErrorMessage"
      ip             = "$context.identity.sourceIp"
    })
  }
  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  for_each      = var.integrations
  statement_id  = "apigateway-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  # only this API's routes of this function
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# Deployments from before approval_worker served the approvals' routes.
moved {
  from = aws_apigatewayv2_integration.agent
  to   = aws_apigatewayv2_integration.this["agent_executor"]
}

moved {
  from = aws_lambda_permission.api
  to   = aws_lambda_permission.api["agent_executor"]
}
