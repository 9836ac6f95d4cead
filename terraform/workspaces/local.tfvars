# Workspace "local": the local AWS emulator (make deploy-local).
workspace = "local"
# The emulator's accounts (moto: 123456789012, LocalStack: 000000000000): these settings can
# never be applied to a real account by mistake.
allowed_account_ids = ["123456789012", "000000000000"]
# runtime/architecture: the host's (passed by localstack/terraform_apply_test.py), since the
# emulator runs the functions with this machine's Python.
region               = "us-east-1"
jwt_issuer           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
jwt_audience         = ["agentocore-local"]
log_retention_days   = 7
reserved_concurrency = {}
# The offline deterministic model: no AWS account, no Bedrock (never the default on AWS).
model = "rules:v1"
extra_environment = {
  AWS_ENDPOINT_URL = "http://127.0.0.1:4566"
  # demo payment system: refunds of this order fail (retries, DLQ and alert scenario)
  EXAMPLE_PAYMENTS_FAIL_ORDER_IDS = "X-0000"
}
# Per UTC day budgets (0 = unlimited); see README "Configuration".
daily_budgets = { user_tokens = 5000000, user_usd = 0, tenant_tokens = 50000000, tenant_usd = 0, tenant_shards = 4 }
