variable "name" {
  description = "Function (and role) name."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "handler" {
  description = "Handler entry point."
  type        = string
  default     = "handler.handler"
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "arm64 or x86_64."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "zip_path" {
  description = "Path of the function's zip (built by `make build`)."
  type        = string
}

variable "layer_arns" {
  description = "Layers (the agentocore layer)."
  type        = list(string)
  default     = []
}

variable "memory_mb" {
  description = "Memory size."
  type        = number
  default     = 512
}

variable "timeout_s" {
  description = "Timeout in seconds."
  type        = number
  default     = 30
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (-1: unreserved)."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "statements" {
  description = <<-EOT
    The function's own permissions: exact actions on exact resources, optionally narrowed by
    IAM conditions (e.g. dynamodb:LeadingKeys, events:source); all conditions must hold.
  EOT
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
  validation {
    condition = alltrue([
      for s in var.statements : !anytrue([for a in s.actions : strcontains(a, "*")])
    ])
    error_message = "Statements name exact actions (no wildcards)."
  }
}

variable "kms_key_arn" {
  description = "Key for environment variables and logs."
  type        = string
}

variable "dead_letter_queue_arn" {
  description = "SQS queue receiving failed asynchronous invocations."
  type        = string
}

variable "async" {
  description = "Configure asynchronous invocation (event age, retries)."
  type        = bool
  default     = true
}

variable "max_event_age_s" {
  description = "Drop (dead-letter) async events older than this."
  type        = number
  default     = 3600
}

variable "max_retry_attempts" {
  description = "Retries of a failed async invocation (0-2)."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
