runbook "x" {}
step "adsync_cycle" "initial" {
  postcondition {
    condition     = 1 == 2 # ERROR: Constant postcondition condition
    error_message = "Always."
  }
}
