variable "name" {
  description = "API name."
  type        = string
}

variable "stage" {
  description = "Stage name (part of the URL and of the management endpoint)."
  type        = string
  default     = "live"
}

variable "routes" {
  description = "Route keys, all to the one integration ($connect is the authorized one)."
  type        = list(string)
  default     = ["$connect", "$disconnect", "$default", "sendMessage", "subscribe", "unsubscribe"]
}

variable "function_name" {
  description = "The function serving every route."
  type        = string
}

variable "invoke_arn" {
  description = "Its invoke ARN."
  type        = string
}

variable "authorizer_function_name" {
  description = "The $connect authorizer function."
  type        = string
}

variable "authorizer_invoke_arn" {
  description = "Its invoke ARN."
  type        = string
}

variable "throttle_rate" {
  description = "Steady-state messages per second."
  type        = number
  default     = 50
}

variable "throttle_burst" {
  description = "Burst of messages."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Access log retention."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Key for the access log group."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}

variable "endpoint_parameter" {
  description = "SSM parameter name holding the management endpoint (/.../ws-endpoint)."
  type        = string
}
