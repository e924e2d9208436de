runbook "x" {}
step "adsync_cycle" "initial" {
  precondition {
    condition     = true # ERROR: Constant precondition condition
    error_message = "Never."
  }
}
