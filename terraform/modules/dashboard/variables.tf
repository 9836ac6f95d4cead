variable "name" {
  description = "Dashboard name."
  type        = string
}

variable "agent_id" {
  description = "AgentId dimension shown on the dashboard."
  type        = string
  default     = "default"
}

variable "function_names" {
  description = "Functions to chart and alarm on."
  type        = list(string)
}

variable "dlq_names" {
  description = "Dead-letter queues to chart and alarm on."
  type        = list(string)
}

variable "alerts_topic_arn" {
  description = "Alarm actions go here."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
