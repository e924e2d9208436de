runbook "x" {
  approvals = var.n # ERROR: Variables not allowed
}
