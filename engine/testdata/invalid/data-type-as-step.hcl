runbook "t" {}

step "test_read" "x" { # ERROR: Data type used as a step
  key = "a"
}
