variable "service" {
  description = "IAM service prefix of the resources (s3, sqs, ...)."
  type        = string
}

variable "resources" {
  description = "Resource ARNs the statement covers (for S3: the bucket and bucket/*)."
  type        = list(string)
}
