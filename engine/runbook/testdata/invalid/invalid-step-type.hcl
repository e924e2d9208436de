runbook "x" {}
step "entra user" "bound" {} # ERROR: Invalid step type
