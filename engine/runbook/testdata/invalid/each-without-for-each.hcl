runbook "x" {}
step "ad_user" "anchor" {
  upn = each.key # ERROR: Invalid reference
}
