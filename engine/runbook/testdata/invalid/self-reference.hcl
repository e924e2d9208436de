runbook "x" {}
step "entra_user" "bound" {
  postcondition {
    condition     = step.entra_user.bound.result != null # ERROR: Self-reference
    error_message = "No result."
  }
}
