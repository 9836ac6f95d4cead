# The shared layer: agentocore + its pinned dependencies, built by `make build`
# (layers/agentocore/build.py -> dist/agentocore-layer.zip).
resource "aws_lambda_layer_version" "this" {
  layer_name               = var.name
  filename                 = var.zip_path
  source_code_hash         = filebase64sha256(var.zip_path)
  compatible_runtimes      = var.compatible_runtimes
  compatible_architectures = [var.architecture]
  description              = "AgentoCore core package and dependencies"
}
