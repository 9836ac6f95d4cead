# Plan-time guards of the production workspace, offline (mocked AWS provider):
#   TF_WORKSPACE=prod terraform test -filter=tests/prod.tftest.hcl -var-file=workspaces/prod.tfvars
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  dist_dir = "tests/fixtures/dist-arm64-py312"
}

run "the_shipped_placeholders_are_refused" {
  command         = plan
  expect_failures = [terraform_data.production_guard]
}

run "filled_in_production_settings_plan" {
  command = plan
  variables {
    allowed_account_ids = ["123456789012"]
    jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E"
    alert_emails        = ["oncall@acme.io"]
    approver_emails     = ["finance-approvals@acme.io"]
  }
  assert {
    condition     = module.memory_table.name == "agentocore-prod-memory"
    error_message = "unexpected table name"
  }
}

run "example_emails_are_refused" {
  command = plan
  variables {
    allowed_account_ids = ["123456789012"]
    jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E"
    alert_emails        = ["alerts@example.com"]
    approver_emails     = ["finance-approvals@acme.io"]
  }
  expect_failures = [terraform_data.production_guard]
}

run "prod_without_the_production_flag_is_refused" {
  command = plan
  variables {
    production          = false
    allowed_account_ids = ["123456789012"]
    jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E"
    alert_emails        = ["oncall@acme.io"]
    approver_emails     = ["finance-approvals@acme.io"]
  }
  expect_failures = [terraform_data.workspace_guard]
}

run "the_rules_model_is_refused_in_production" {
  command = plan
  variables {
    model               = "rules:v1"
    allowed_account_ids = ["123456789012"]
    jwt_issuer          = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E"
    alert_emails        = ["oncall@acme.io"]
    approver_emails     = ["finance-approvals@acme.io"]
  }
  expect_failures = [terraform_data.production_guard]
}
