runbook "t" {}

step "file" "f" { # ERROR: Missing required argument
  path = "a.txt"
}

step "test_value" "v" { # ERROR: Missing required argument
  value = "1"
}
