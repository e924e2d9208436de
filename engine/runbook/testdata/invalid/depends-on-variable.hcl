runbook "x" {}
variable "a" {}
step "assert" "ok" {
  depends_on = [var.a] # ERROR: Invalid depends_on reference
}
