runbook "x" {
  approvals = -1 # ERROR: Invalid value for approvals
}
