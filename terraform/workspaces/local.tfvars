# Workspace "local": the local AWS emulator (make deploy-local).
region               = "us-east-1"
architecture         = "x86_64"
jwt_issuer           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
jwt_audience         = ["agentocore-local"]
log_retention_days   = 7
reserved_concurrency = {}
# The offline deterministic model: no AWS account, no Bedrock (never the default on AWS).
model = "rules:v1"
extra_environment = {
  AWS_ENDPOINT_URL = "http://127.0.0.1:4566"
  # demo payment system: refunds of this order fail (retries, DLQ and alert scenario)
  AGENTOCORE_PAYMENTS_FAIL_ORDER_IDS = "X-0000"
}
