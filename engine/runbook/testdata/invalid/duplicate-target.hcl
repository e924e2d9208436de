runbook "x" {}
target "ad" "corp" {}
target "ad" "corp" {} # ERROR: Duplicate target "ad" "corp"
