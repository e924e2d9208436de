runbook "x" {}
variable "a" {}
variable "upn" {
  validation {
    condition     = var.a != "" # ERROR: Invalid validation condition
    error_message = "Set a."
  }
}
