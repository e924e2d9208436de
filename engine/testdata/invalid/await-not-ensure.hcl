runbook "t" {}

step "test_action" "sync" {
  key   = "delta"
  await = "10m" # ERROR: Await on a step that is not desired state
}

step "wait" "pause" {
  duration = "1m"
  await    = "1h" # ERROR: Await on a step that is not desired state
}
