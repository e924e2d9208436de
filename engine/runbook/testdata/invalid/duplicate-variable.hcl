runbook "x" {}
variable "upn" {}
variable "upn" { # ERROR: Duplicate variable "upn"
  type = string
}
