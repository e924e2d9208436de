runbook "x" {}
step "adsync_cycle" "initial" {
  retry { # ERROR: Missing required argument
    backoff = "10s"
  }
}
