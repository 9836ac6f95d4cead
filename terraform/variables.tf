variable "workspace" {
  description = "The workspace this variables file is for; must equal `terraform workspace show`."
  type        = string
}

variable "allowed_account_ids" {
  description = "AWS accounts this workspace may touch (the provider refuses others). Required in production."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.allowed_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "allowed_account_ids are 12-digit AWS account ids."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "architecture" {
  description = "Lambda architecture; `make build` must have built the zips for it (dist/build.json)."
  type        = string
  default     = "arm64"
  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "runtime" {
  description = "Lambda runtime; `make build` must have built the zips for it (dist/build.json)."
  type        = string
  default     = "python3.12"
  validation {
    condition     = can(regex("^python3\\.(1[1-9])$", var.runtime))
    error_message = "runtime must be a Lambda Python runtime, python3.11 or newer."
  }
}

variable "dist_dir" {
  description = "Where `make build` put the layer and function zips."
  type        = string
  default     = "../dist"
}

variable "model" {
  description = "AGENTOCORE_MODEL: '<provider>:<model id>'. For bedrock, the function may invoke exactly this model."
  type        = string
  default     = "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"
}

variable "app" {
  description = "The application module (AGENTOCORE_APP, shipped in the layer): its action catalog and tools."
  type        = string
  default     = "example_app"
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.app))
    error_message = "app must be a Python module name (a folder under functions/)."
  }
}

variable "action_catalog_file" {
  description = "The application's catalog file (default: functions/<app>/catalog.json)."
  type        = string
  default     = null
}

variable "approver_group" {
  description = "JWT group allowed to decide approvals."
  type        = string
  default     = "approvers"
}

variable "jwt_issuer" {
  description = "JWT issuer URL for the HTTP API authorizer."
  type        = string
}

variable "jwt_audience" {
  description = "Accepted JWT audiences."
  type        = list(string)
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (-1: unreserved)."
  type        = map(number)
  default = {
    agent_executor          = 20
    agent_executor_priority = 5
    standard_worker         = 10
    approval_worker         = 5
    dlq_handler             = 2
  }
}

variable "log_retention_days" {
  description = "Retention of function and access logs."
  type        = number
  default     = 30
}

variable "alert_emails" {
  description = "Emails subscribed to the alerts topic."
  type        = list(string)
  default     = []
}

variable "approver_emails" {
  description = "Emails subscribed to the approvals topic."
  type        = list(string)
  default     = []
}

variable "schedule_enabled" {
  description = "Whether the scheduled agent run is active."
  type        = bool
  default     = false
}

variable "schedule_expression" {
  description = "Schedule of the scheduled agent run."
  type        = string
  default     = "cron(0 8 * * ? *)"
}

variable "api_throttle_rate" {
  description = "HTTP API steady-state requests per second."
  type        = number
  default     = 50
}

variable "api_throttle_burst" {
  description = "HTTP API burst."
  type        = number
  default     = 100
}

variable "production" {
  description = "Production safeguards: table deletion protection, no force-destroy of the inbox."
  type        = bool
  default     = false
}

variable "sync_budget_s" {
  description = "Seconds a synchronous HTTP run may take before it continues asynchronously (202); below the HTTP API's 30 s limit."
  type        = number
  default     = 25
  validation {
    condition     = var.sync_budget_s > 0 && var.sync_budget_s <= 28
    error_message = "sync_budget_s must be 1..28: the HTTP API answers 503 after 30 s."
  }
}

variable "extra_environment" {
  description = "Extra environment for every function (e.g. AWS_ENDPOINT_URL for a local emulator)."
  type        = map(string)
  default     = {}
}

variable "daily_budgets" {
  description = "Per UTC day budgets in tokens and USD: per user (JWT sub or trigger principal) and for the whole deployment (tenant); 0 = unlimited. tenant_shards: items the tenant budget is split over, each with an equal share (every model call writes it twice and one partition takes ~1,000 writes/s: see the README's Capacity)."
  type = object({
    user_tokens   = number
    user_usd      = number
    tenant_tokens = number
    tenant_usd    = number
    tenant_shards = optional(number, 1)
  })
  default = { user_tokens = 2000000, user_usd = 10, tenant_tokens = 0, tenant_usd = 0 }
  validation {
    condition     = alltrue([for v in values(var.daily_budgets) : v >= 0])
    error_message = "daily_budgets: every limit must be >= 0 (0 = unlimited)."
  }
  validation {
    condition     = var.daily_budgets.tenant_shards >= 1 && var.daily_budgets.tenant_shards <= 1000 && floor(var.daily_budgets.tenant_shards) == var.daily_budgets.tenant_shards
    error_message = "daily_budgets.tenant_shards must be a whole number from 1 to 1000."
  }
  validation {
    # The functions refuse at init a share under 4 calls of maxTokens (4096 by default).
    condition     = var.daily_budgets.tenant_shards == 1 || var.daily_budgets.tenant_tokens == 0 || var.daily_budgets.tenant_tokens / var.daily_budgets.tenant_shards >= 4 * 4096
    error_message = "daily_budgets: tenant_tokens / tenant_shards must be at least 16384 (4 calls of maxTokens 4096): use fewer shards."
  }
}

variable "budget_unpriced" {
  description = "A model missing from the price table: deny (USD budgets fail closed) or allow (counted at $0)."
  type        = string
  default     = "deny"
  validation {
    condition     = contains(["deny", "allow"], var.budget_unpriced)
    error_message = "budget_unpriced must be deny or allow."
  }
}

variable "trusted_user_triggers" {
  description = "Triggers whose payload may name the user a run acts for (s3, sns, schedule); the others run as their own principal (s3:<bucket>, sns:<topic>, schedule:<name>). Trust one only if everyone who can write to it may act as any user."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for t in var.trusted_user_triggers : contains(["s3", "sns", "schedule"], t)])
    error_message = "trusted_user_triggers may list s3, sns and schedule only."
  }
}

variable "console_origins" {
  description = "Origins of the web console (console/, deployed as static files), allowed by the HTTP API's CORS, e.g. [\"https://console.example.com\"]."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for o in var.console_origins : can(regex("^https://[^/*]+$", o)) || can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?$", o))])
    error_message = "console_origins: https://host origins (no path, no wildcard); http only for 127.0.0.1/localhost."
  }
}
