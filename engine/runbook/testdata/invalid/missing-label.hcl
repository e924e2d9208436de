runbook "x" {}
step "entra_user" { # ERROR: Missing name for step
}
