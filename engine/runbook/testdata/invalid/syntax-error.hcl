runbook "x" {}
step "entra_user" "bound" {
  upn = = "a" # ERROR: Invalid expression
}
