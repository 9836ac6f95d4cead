# Workspace "prod". The plan refuses to run until the placeholders below are replaced (see
# guards.tf): real account ids, a real JWT issuer, people who receive alerts and approvals.
workspace           = "prod"
allowed_account_ids = [] # e.g. ["222222222222"]: required
region              = "us-east-1"
architecture        = "arm64"
runtime             = "python3.12"
jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
jwt_audience        = ["agentocore-prod-client"]
log_retention_days  = 365
production          = true
schedule_enabled    = true
alert_emails        = [] # required
approver_emails     = [] # required
# Per UTC day budgets (0 = unlimited); see README "Configuration".
daily_budgets = { user_tokens = 2000000, user_usd = 10, tenant_tokens = 200000000, tenant_usd = 1000, tenant_shards = 16 }
