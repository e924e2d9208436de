runbook "x" {}
step "ad_user" "anchor" {
  for_each = each.value # ERROR: Invalid reference to each
}
