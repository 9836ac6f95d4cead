variable "name" {
  description = "Bus name."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key that encrypts events on the bus."
  type        = string
}

variable "dlq_arn" {
  description = "The bus's own dead-letter queue."
  type        = string
}

variable "rules" {
  description = "Rule key -> event pattern (JSON), target (a function: name + ARN; a queue: ARN, no name) and the target's dead-letter queue."
  type = map(object({
    description   = string
    pattern       = string
    target_arn    = string
    function_name = optional(string)
    dlq_arn       = string
  }))
}

variable "max_event_age_s" {
  description = "Targets: stop retrying events older than this."
  type        = number
  default     = 3600
}

variable "max_retry_attempts" {
  description = "Targets: delivery retries before the DLQ."
  type        = number
  default     = 8
}

variable "archive_retention_days" {
  description = "Archive retention (0 = forever)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
