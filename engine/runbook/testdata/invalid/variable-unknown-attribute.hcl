runbook "x" {}
variable "n" {
  nullable = true # ERROR: Unsupported argument
}
