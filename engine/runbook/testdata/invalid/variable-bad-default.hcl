runbook "x" {}
variable "n" {
  type    = number
  default = "three" # ERROR: Invalid default value
}
