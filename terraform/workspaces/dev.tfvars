# Workspace "dev": a shared development account.
workspace           = "dev"
allowed_account_ids = [] # set the dev account id, e.g. ["111111111111"], to refuse any other
region              = "us-east-1"
architecture        = "arm64"
runtime             = "python3.12"
jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
jwt_audience        = ["agentocore-dev-client"]
log_retention_days  = 14
schedule_enabled    = false
# Per UTC day budgets (0 = unlimited); see README "Configuration".
daily_budgets = { user_tokens = 1000000, user_usd = 5, tenant_tokens = 20000000, tenant_usd = 100 }
