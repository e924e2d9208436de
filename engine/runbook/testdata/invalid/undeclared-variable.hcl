runbook "x" {}
step "ad_user" "anchor" {
  upn = var.upn # ERROR: Reference to undeclared variable
}
