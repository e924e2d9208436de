runbook "x" {}
step "entra_user" "bound" {}
step "entra_user" "bound" { # ERROR: Duplicate step "entra_user" "bound"
  upn = "a@contoso.com"
}
