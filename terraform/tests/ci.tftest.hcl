# Plan-time guards of a non-production workspace, offline (mocked AWS provider):
#   TF_WORKSPACE=ci terraform test -filter=tests/ci.tftest.hcl -var-file=workspaces/ci.tfvars
# (terraform/checks.py runs it that way).
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  dist_dir     = "tests/fixtures/dist-arm64-py312"
  architecture = "arm64"
  runtime      = "python3.12"
}

run "matching_build_plans" {
  command = plan
  assert {
    condition     = terraform_data.build_guard.input["agentocore-layer.zip"] != ""
    error_message = "the build guard did not read the manifest"
  }
}

run "zips_built_for_another_runtime_are_refused" {
  command = plan
  variables {
    runtime = "python3.13"
  }
  expect_failures = [terraform_data.build_guard]
}

run "zips_built_for_another_architecture_are_refused" {
  command = plan
  variables {
    architecture = "x86_64"
  }
  expect_failures = [terraform_data.build_guard]
}

run "a_zip_changed_after_the_build_is_refused" {
  command = plan
  variables {
    dist_dir = "tests/fixtures/dist-tampered"
  }
  expect_failures = [terraform_data.build_guard]
}

run "another_workspaces_file_is_refused" {
  command = plan
  variables {
    workspace = "dev"
  }
  expect_failures = [terraform_data.workspace_guard]
}

run "production_settings_in_a_non_prod_workspace_still_need_real_values" {
  command = plan
  variables {
    production = true
  }
  expect_failures = [terraform_data.production_guard]
}
