runbook "x" {}
locals {
  suffix = "@contoso.com"
}
variable "upn" {
  validation {
    condition     = endswith(var.upn, local.suffix) # ERROR: Invalid reference
    error_message = "Wrong domain."
  }
}
