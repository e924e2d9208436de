runbook "t" {}

target "no_such_target" "corp" { # ERROR: Unknown target type
  url = "ldaps://dc01"
}
