runbook "x" {
  irreversible_approvals = 1.5 # ERROR: Invalid value for irreversible_approvals
}
