runbook "x" {}
approvals = 2 # ERROR: Unsupported argument
