# Secrets the application's tools read (agentocore.secrets: Powertools Parameters, cached with
# a TTL). One Secrets Manager secret per logical name, encrypted with the deployment's key.
# Terraform writes a placeholder once; the real value is set out of band
#   aws secretsmanager put-secret-value --secret-id <name> --secret-string <value>
# and kept (ignore_changes), so it never lands in the state or a tfvars file. The functions get
# the names (AGENTOCORE_SECRETS, local.environment), never the values; only the functions that
# run tools may read them, and only these secrets.

variable "tool_secrets" {
  description = "Secrets the tools read: logical name -> description. The value is set out of band."
  type        = map(string)
  default = {
    carrier_api = "API key of the example carrier (track_shipment)"
  }
  validation {
    condition     = alltrue([for name in keys(var.tool_secrets) : can(regex("^[a-z][a-z0-9_]{0,63}$", name))])
    error_message = "tool_secrets keys are logical names: lower case, digits and '_'."
  }
}

resource "aws_secretsmanager_secret" "tool" {
  # checkov:skip=CKV2_AWS_57:Third-party API keys are rotated by their issuer and set out of band; no rotation Lambda can issue them.
  for_each    = var.tool_secrets
  name        = local.tool_secret_names[each.key]
  description = each.value
  kms_key_id  = module.kms.key_arn
  # production keeps a deleted secret recoverable; other workspaces free the name at once
  recovery_window_in_days = var.production ? 30 : 0
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "tool" {
  for_each      = var.tool_secrets
  secret_id     = aws_secretsmanager_secret.tool[each.key].id
  secret_string = "placeholder: set the real value with secretsmanager put-secret-value"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

locals {
  # The environment names the secrets (known at plan time, as main.tf wants every variable);
  # GetSecretValue takes a name. The policy names the exact ARNs (AWS adds a random suffix).
  tool_secret_names = { for name in keys(var.tool_secrets) : name => "${local.prefix}/tools/${name}" }
  tool_secret_map   = jsonencode(local.tool_secret_names)
  tool_secret_arns  = [for s in aws_secretsmanager_secret.tool : s.arn]

  tool_secret_statements = length(var.tool_secrets) == 0 ? [] : [{
    sid       = "ReadToolSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.tool_secret_arns
  }]
}
