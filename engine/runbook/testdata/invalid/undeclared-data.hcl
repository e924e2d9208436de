runbook "x" {}
step "entra_user" "bound" {
  immutable_id = immutable_id(data.ad_user.new.object_guid) # ERROR: Reference to undeclared data block
}
