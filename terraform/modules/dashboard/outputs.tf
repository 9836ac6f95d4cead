output "dashboard_name" {
  description = "Dashboard name."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "All alarms."
  value       = [for a in aws_cloudwatch_metric_alarm.this : a.alarm_name]
}
