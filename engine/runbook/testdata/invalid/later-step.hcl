runbook "x" {}
step "entra_immutable_id" "set" {
  immutable_id = step.ad_user.created.result.immutable_id # ERROR: Reference to a later step
}
step "ad_user" "created" {}
