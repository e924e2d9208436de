runbook "x" {}
step "adsync_cycle" "initial" {
  on_failure = explode # ERROR: Invalid on_failure
}
