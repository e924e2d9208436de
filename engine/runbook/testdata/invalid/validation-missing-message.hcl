runbook "x" {}
variable "upn" {
  validation { # ERROR: Missing required argument
    condition = var.upn != ""
  }
}
