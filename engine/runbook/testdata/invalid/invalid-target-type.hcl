runbook "x" {}
target "a.d" "corp" {} # ERROR: Invalid target type
