runbook "x" {}
step "adsync_cycle" "initial" {
  optional = true # ERROR: Invalid step argument
}
