runbook "x" {}
step "adsync_cycle" "initial" {
  retry {
    attempts = 3
  }
  retry { # ERROR: Duplicate retry block
    attempts = 4
  }
}
