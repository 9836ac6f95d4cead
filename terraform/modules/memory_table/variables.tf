variable "name" {
  description = "Table name."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed key for server-side encryption."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the table (enable in production workspaces)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
