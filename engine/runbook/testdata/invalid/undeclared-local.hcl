runbook "x" {}
locals {
  a = local.b # ERROR: Reference to undeclared local
}
