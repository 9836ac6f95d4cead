# Plan-time guards: a variables file applied to the wrong workspace, a production workspace with
# example settings, or Lambda zips built for another runtime/architecture stop the plan with a
# message instead of deploying something broken.

locals {
  example_marker = "(?i)(example|placeholder|changeme)"
  emails         = concat(var.alert_emails, var.approver_emails)

  # Written by `make build` (layers/agentocore/build.py) next to the zips it built.
  build_manifest = "${var.dist_dir}/build.json"
  build          = fileexists(local.build_manifest) ? jsondecode(file(local.build_manifest)) : null
  deployed_zips = concat(
    ["agentocore-layer.zip"],
    distinct([for f in values(local.functions) : "functions/${f.source}.zip"]),
  )
  zip_mismatches = [
    for z in local.deployed_zips : z
    if try(local.build.artifacts[z], "") != (fileexists("${var.dist_dir}/${z}") ? filebase64sha256("${var.dist_dir}/${z}") : "missing")
  ]
}

resource "terraform_data" "workspace_guard" {
  input = terraform.workspace

  lifecycle {
    precondition {
      condition     = terraform.workspace != "default"
      error_message = "Select a workspace first (terraform workspace select -or-create <name>): names and state are per workspace."
    }
    precondition {
      condition     = var.workspace == terraform.workspace
      error_message = "This variables file is for workspace \"${var.workspace}\" but workspace \"${terraform.workspace}\" is selected: use -var-file=workspaces/${terraform.workspace}.tfvars."
    }
    precondition {
      condition     = terraform.workspace != "prod" || var.production
      error_message = "Workspace prod must set production = true (deletion protection, no force-destroy)."
    }
  }
}

# Production refuses the example settings the workspace files ship with.
resource "terraform_data" "production_guard" {
  input = var.production

  lifecycle {
    precondition {
      condition     = !var.production || (length(var.alert_emails) > 0 && length(var.approver_emails) > 0)
      error_message = "Production needs alert_emails and approver_emails: nobody would hear of failures or pending approvals."
    }
    precondition {
      condition     = !var.production || alltrue([for e in local.emails : !can(regex(local.example_marker, e))])
      error_message = "Production refuses example email addresses in alert_emails / approver_emails."
    }
    precondition {
      condition     = !var.production || (startswith(var.jwt_issuer, "https://") && !can(regex(local.example_marker, var.jwt_issuer)))
      error_message = "Production needs a real JWT issuer (https://..., not the example user pool)."
    }
    precondition {
      condition     = !var.production || length(var.allowed_account_ids) > 0
      error_message = "Production needs allowed_account_ids: the provider then refuses any other account."
    }
    precondition {
      condition     = !startswith(var.model, "rules:") || !var.production
      error_message = "The rules model is a test double; production needs a real model (bedrock:...)."
    }
  }
}

resource "terraform_data" "build_guard" {
  input = try(local.build.artifacts, {})

  lifecycle {
    precondition {
      condition     = local.build != null
      error_message = "No build manifest at ${local.build_manifest}: run `make build` (BUILD_ARCH/BUILD_PYTHON for this workspace)."
    }
    precondition {
      condition     = try(local.build.architecture, "") == var.architecture && try(local.build.runtime, "") == var.runtime
      error_message = "The zips in ${var.dist_dir} were built for ${try(local.build.runtime, "?")} on ${try(local.build.architecture, "?")}, but this workspace deploys ${var.runtime} on ${var.architecture}: rebuild with `make build WORKSPACE=${terraform.workspace}`."
    }
    precondition {
      condition     = length(local.zip_mismatches) == 0
      error_message = "These zips are missing or differ from the build manifest (built separately?): ${join(", ", local.zip_mismatches)}. Rebuild with `make build`."
    }
  }
}
