# CloudWatch dashboard (agent metrics from EMF + Lambda metrics) and alarms to the alerts topic.
data "aws_region" "current" {}

locals {
  namespace = "AgentoCore"
  agent_metrics = [
    for m in ["Iterations", "ToolCalls", "ToolErrors", "InputTokens", "OutputTokens", "CacheReadTokens"] :
    [local.namespace, m, "AgentId", var.agent_id]
  ]
  widgets = concat(
    [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Agent runs (${var.agent_id})"
          region  = data.aws_region.current.name
          stat    = "Sum"
          period  = 300
          metrics = local.agent_metrics
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Latency and cost"
          region = data.aws_region.current.name
          period = 300
          metrics = [
            [local.namespace, "ExecutionTime", "AgentId", var.agent_id, { stat = "p95" }],
            [local.namespace, "CostUSD", "AgentId", var.agent_id, { stat = "Sum", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 24, height = 6
        properties = {
          title  = "Lambda errors, throttles, duration p95"
          region = data.aws_region.current.name
          period = 300
          metrics = flatten([
            for f in var.function_names : [
              ["AWS/Lambda", "Errors", "FunctionName", f, { stat = "Sum" }],
              ["AWS/Lambda", "Throttles", "FunctionName", f, { stat = "Sum" }],
              ["AWS/Lambda", "Duration", "FunctionName", f, { stat = "p95", yAxis = "right" }],
            ]
          ])
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title  = "Dead-letter queue depth"
          region = data.aws_region.current.name
          stat   = "Maximum"
          period = 300
          metrics = [
            for q in var.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]
          ]
        }
      },
    ]
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}

locals {
  alarms = merge(
    { for f in var.function_names : "${f}-errors" => {
      namespace  = "AWS/Lambda", metric = "Errors", statistic = "Sum"
      dimensions = { FunctionName = f }, description = "${f} reported errors"
    } },
    { for f in var.function_names : "${f}-throttles" => {
      namespace  = "AWS/Lambda", metric = "Throttles", statistic = "Sum"
      dimensions = { FunctionName = f }, description = "${f} was throttled"
    } },
    { for q in var.dlq_names : "${q}-depth" => {
      namespace  = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      dimensions = { QueueName = q }, description = "Messages waiting in ${q}"
    } },
  )
}

# Any error, throttle or dead letter alerts: the thresholds are zero on purpose.
resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alerts_topic_arn]
  tags                = var.tags
}
