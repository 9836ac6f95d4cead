# Workspace "ci": applied to the local AWS emulator by `make tf-apply-test`.
region               = "us-east-1"
architecture         = "x86_64"
jwt_issuer           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_ci"
jwt_audience         = ["agentocore-ci"]
log_retention_days   = 7
reserved_concurrency = {}
model                = "rules:v1"
extra_environment = {
  AGENTOCORE_PAYMENTS_FAIL_ORDER_IDS = "X-0000"
}
