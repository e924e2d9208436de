runbook "x" {}
variable "secret" {
  sensitive = "maybe" # ERROR: Invalid value for sensitive
}
