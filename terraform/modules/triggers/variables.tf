variable "prefix" {
  description = "Name prefix (agentocore-<workspace>)."
  type        = string
}

variable "bucket_name" {
  description = "Inbox bucket name (globally unique)."
  type        = string
}

variable "account_id" {
  description = "Account that owns the bucket."
  type        = string
}

variable "function_name" {
  description = "agent_executor's name."
  type        = string
}

variable "function_arn" {
  description = "agent_executor's ARN."
  type        = string
}

variable "kms_key_arn" {
  description = "Key for the bucket and the topic."
  type        = string
}

variable "schedule_expression" {
  description = "When the scheduled run happens."
  type        = string
  default     = "cron(0 8 * * ? *)"
}

variable "schedule_enabled" {
  description = "Whether the schedule is active."
  type        = bool
  default     = false
}

variable "schedule_message" {
  description = "The user message of a scheduled run."
  type        = string
  default     = "Scheduled run: review open items and report."
}

variable "schedule_dlq_arn" {
  description = "Dead-letter queue of the schedule target."
  type        = string
}

variable "inbox_retention_days" {
  description = "Days before inbox objects expire."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Allow destroying a non-empty bucket (non-production workspaces)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
