# Workspace "ci": applied to the local AWS emulator by `make tf-apply-test`.
workspace = "ci"
# The emulator's accounts (moto: 123456789012, LocalStack: 000000000000): these settings can
# never be applied to a real account by mistake.
allowed_account_ids = ["123456789012", "000000000000"]
# runtime/architecture: the host's (passed by localstack/terraform_apply_test.py), since the
# emulator runs the functions with this machine's Python.
region               = "us-east-1"
jwt_issuer           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ci"
jwt_audience         = ["agentocore-ci"]
log_retention_days   = 7
reserved_concurrency = {}
model                = "rules:v1"
# The e2e tests' app: the example plus an action type of its own (tests/e2e/e2e_app); make
# build-local ships it in the layer.
app                 = "e2e_app"
action_catalog_file = "../tests/e2e/e2e_app/catalog.json"
extra_environment = {
  EXAMPLE_PAYMENTS_FAIL_ORDER_IDS = "X-0000"
}
# Per UTC day budgets (0 = unlimited); see README "Configuration".
daily_budgets = { user_tokens = 5000000, user_usd = 0, tenant_tokens = 50000000, tenant_usd = 0, tenant_shards = 4 }
