variable "name" {
  description = "API name."
  type        = string
}

variable "integrations" {
  description = "Functions behind the API: name -> its function and the route keys it serves."
  type = map(object({
    function_name = string
    invoke_arn    = string
    routes        = list(string)
  }))
  validation {
    condition     = length(flatten([for i in values(var.integrations) : i.routes])) == length(distinct(flatten([for i in values(var.integrations) : i.routes])))
    error_message = "A route is served by one integration only."
  }
}

variable "jwt_issuer" {
  description = "JWT issuer URL (e.g. the Cognito user pool URL)."
  type        = string
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (client ids)."
  type        = list(string)
}

variable "throttle_rate" {
  description = "Steady-state requests per second."
  type        = number
  default     = 50
}

variable "throttle_burst" {
  description = "Burst requests."
  type        = number
  default     = 100
}

variable "integration_timeout_ms" {
  description = "Integration timeout: API Gateway's HTTP API allows 50..30000 ms."
  type        = number
  default     = 30000
  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 30000
    error_message = "An HTTP API integration timeout must be 50..30000 ms."
  }
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

variable "cors_origins" {
  description = "Origins allowed to call the API from a browser (the web console's); empty = none."
  type        = list(string)
  default     = []
}
