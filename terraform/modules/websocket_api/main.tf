# API Gateway WebSocket API: live run events (agentocore.socket_api). $connect is authorized by
# a Lambda REQUEST authorizer checking the HTTP API's JWT issuer (?token=); every route goes to
# one function (agent_executor), which answers through the management API
# (execute-api:ManageConnections on this stage's @connections only).
resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  description                = "AgentoCore WebSocket API (live run events)"
  tags                       = var.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "jwt"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.authorizer_invoke_arn
  identity_sources = ["route.request.querystring.token"]
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                    = aws_apigatewayv2_api.this.id
  integration_type          = "AWS_PROXY"
  integration_method        = "POST"
  integration_uri           = var.invoke_arn
  content_handling_strategy = "CONVERT_TO_TEXT"
  timeout_milliseconds      = 29000
  description               = "${var.function_name}: every route"
}

resource "aws_apigatewayv2_route" "this" {
  # checkov:skip=CKV_AWS_309:A WebSocket API authorizes the connection at $connect only (API Gateway refuses an authorizer on other routes); every message carries the identity $connect's authorizer returned.
  for_each           = toset(var.routes)
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = each.key == "$connect" ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == "$connect" ? aws_apigatewayv2_authorizer.jwt.id : null
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  # checkov:skip=CKV2_AWS_51:Client certificates (mutual TLS) come with custom domains of REST and HTTP APIs; WebSocket connections are authorized by the JWT at $connect.
  api_id      = aws_apigatewayv2_api.this.id
  name        = var.stage
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttle_burst
    throttling_rate_limit  = var.throttle_rate
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId    = "$context.requestId"
      connectionId = "$context.connectionId"
      eventType    = "$context.eventType"
      routeKey     = "$context.routeKey"
      status       = "$context.status"
      sub          = "$context.authorizer.principalId"
      authError    = "$context.authorizer.error"
      ip           = "$context.identity.sourceIp"
    })
  }
  tags = var.tags
}

resource "aws_lambda_permission" "routes" {
  statement_id  = "apigateway-${var.name}"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage}/*"
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "apigateway-${var.name}-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.authorizer_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.jwt.id}"
}

data "aws_region" "current" {}

# The functions read the management endpoint from here (agentocore.stream.push): in their
# environment, the API's id would be unknown until apply, and with it the whole environment in
# every plan the policies and reviewers read.
resource "aws_ssm_parameter" "endpoint" {
  # checkov:skip=CKV2_AWS_34:The stage's public endpoint URL, not a secret.
  name        = var.endpoint_parameter
  description = "Management endpoint of ${var.name} (post_to_connection)"
  type        = "String"
  value       = "https://${aws_apigatewayv2_api.this.id}.execute-api.${data.aws_region.current.name}.amazonaws.com/${var.stage}"
  tags        = var.tags
}
