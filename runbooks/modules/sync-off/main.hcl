# Make synced users cloud-managed so their immutable IDs can be written:
# turn directory sync off for the tenant (PATCH /organization/{id} with
# onPremisesSyncEnabled = false, learn.microsoft.com/graph/api/organization-update),
# wait until each user is no longer synced ("you must wait 72 hours before
# you can turn directory synchronization back on":
# learn.microsoft.com/office365/enterprise/turn-off-directory-synchronization),
# then clear each user's immutable ID (PATCH /users/{id}
# {"onPremisesImmutableId": null}, which Graph refuses while a user is
# still mastered on premises). Turning sync back on is the caller's: what
# runs between differs from runbook to runbook.

variable "users" {
  description = "The users to make cloud-managed and clear, keyed as the caller's fan-outs are; each value has an upn."
}

variable "enabled" {
  type        = bool
  default     = true
  description = "Whether the run turns sync off at all; when false, users should be empty too."
}

variable "max_errors" {
  type        = string
  default     = "0"
  description = "How many users (a count or a percentage) may fail to be cleared before the run stops."
}

target "entra" "tenant" {}

# Irreversible for up to 72 hours: sync cannot be turned on again until the
# switch-off has completed.
step "entra_dir_sync" "off" {
  for_each = var.enabled ? toset(["tenant"]) : toset([])
  target   = target.entra.tenant
  enabled  = false
}

# Immutable IDs can be written only once a user is cloud-managed.
step "entra_user_state" "cloud_managed" {
  for_each        = var.users
  max_concurrency = 10
  target          = target.entra.tenant
  upn             = each.value.upn
  sync_enabled    = false
  await           = "96h"
}

step "entra_immutable_id" "clear" {
  for_each        = var.users
  max_concurrency = 10
  max_errors      = var.max_errors
  target          = target.entra.tenant
  upn             = each.value.upn
  immutable_id    = null
}
