runbook "x" {}
target "ad" "" {} # ERROR: Invalid target name
