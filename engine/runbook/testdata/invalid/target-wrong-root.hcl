runbook "x" {}
data "ad_user" "new" {}
step "ad_user" "anchor" {
  target = data.ad_user.new # ERROR: Invalid target reference
}
