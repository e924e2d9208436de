runbook "x" {}
step "ad_user" "anchor" {
  upn = count.index # ERROR: Invalid reference
}
