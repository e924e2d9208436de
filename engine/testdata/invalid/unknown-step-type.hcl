runbook "t" {}

step "no_such_type" "x" { # ERROR: Unknown step type
  key = "a"
}

data "no_such_read" "y" { # ERROR: Unknown step type
  key = "a"
}
