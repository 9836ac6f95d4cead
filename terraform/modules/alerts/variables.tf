variable "prefix" {
  description = "Name prefix (agentocore-<workspace>)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key for topic encryption."
  type        = string
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "approver_emails" {
  description = "Email addresses subscribed to the approvals topic."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
