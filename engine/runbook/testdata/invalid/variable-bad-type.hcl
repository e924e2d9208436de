runbook "x" {}
variable "n" {
  type = integer # ERROR: Invalid type specification
}
