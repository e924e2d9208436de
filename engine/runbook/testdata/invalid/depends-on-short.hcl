runbook "x" {}
step "adsync_cycle" "initial" {}
step "assert" "ok" {
  depends_on = [step] # ERROR: Invalid depends_on reference
}
