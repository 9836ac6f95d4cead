# Workspace "local": the local AWS emulator (make deploy-local).
region               = "us-east-1"
architecture         = "x86_64"
jwt_issuer           = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
jwt_audience         = ["agentocore-local"]
log_retention_days   = 7
reserved_concurrency = {}
extra_environment = {
  AWS_ENDPOINT_URL = "http://127.0.0.1:4566"
}
