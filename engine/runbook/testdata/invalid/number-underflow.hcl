runbook "x" {}

# go-cty reads this as 0.
variable "n" {
  type    = number
  default = -1e-999999999 # ERROR: Number out of range
}
