runbook "x" {}
step "adsync_cycle" "initial" {
  on_failure = "retry" # ERROR: Invalid on_failure
}
