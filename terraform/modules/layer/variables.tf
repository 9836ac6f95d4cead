variable "name" {
  description = "Layer name."
  type        = string
}

variable "zip_path" {
  description = "Path of the built layer zip."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64 (the zip is built for it)."
  type        = string
}

variable "compatible_runtimes" {
  description = "Lambda runtimes the layer supports."
  type        = list(string)
  default     = ["python3.12", "python3.13"]
}
