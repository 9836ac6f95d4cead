variable "prefix" {
  description = "Name prefix (agentocore-<workspace>)."
  type        = string
}

variable "queues" {
  description = "Keys of the dead-letter queues to create (all drained by one consumer)."
  type        = set(string)
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the drained queues: at least 6x the consumer's timeout."
  type        = number
  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "SQS visibility timeout must be 0..43200 seconds."
  }
}

variable "max_receive_count" {
  description = "Receives of a dead letter before it moves to the terminal queue."
  type        = number
  default     = 5
  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "maxReceiveCount must be 1..1000."
  }
}

variable "message_retention_seconds" {
  description = "How long dead letters are kept (max 14 days)."
  type        = number
  default     = 1209600
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
