variable "prefix" {
  description = "Name prefix (agentocore-<workspace>)."
  type        = string
}

variable "queues" {
  description = "Keys of the dead-letter queues to create."
  type        = set(string)
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
