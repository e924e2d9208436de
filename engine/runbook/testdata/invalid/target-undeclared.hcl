runbook "x" {}
step "ad_user" "anchor" {
  target = target.ad.corp # ERROR: Reference to undeclared target
}
