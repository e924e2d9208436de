runbook "x" {}
step "ad_user" "anchor" {
  target = "ad.corp" # ERROR: Invalid target reference
}
