runbook "x" {}

variable "n" {
  type    = number
  default = 1e999999999 # ERROR: Number out of range
}
