variable "name" {
  description = "Deployment name (alias/<name>)."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before the key is deleted."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
