runbook "x" {}
step "entra_user" "bound!" {} # ERROR: Invalid step name
