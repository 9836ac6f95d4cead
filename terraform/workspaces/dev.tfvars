# Workspace "dev": a shared development account.
region             = "us-east-1"
architecture       = "arm64"
jwt_issuer         = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
jwt_audience       = ["agentocore-dev-client"]
log_retention_days = 14
schedule_enabled   = false
