runbook "x" {}
step "assert" "ok" {
  depends_on = [step.adsync_cycle.initial] # ERROR: Reference to undeclared step
}
