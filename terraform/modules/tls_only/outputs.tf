output "json" {
  description = "The policy document with the single Deny statement."
  value       = data.aws_iam_policy_document.this.json
}
