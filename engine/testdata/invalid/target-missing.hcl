runbook "t" {}

step "test_targeted" "none" { # ERROR: Missing target
  key = "a"
}
