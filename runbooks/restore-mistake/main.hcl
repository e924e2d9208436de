# Seed 000: a user's AD account was deleted, so sync deleted the cloud user
# and (through the license) the mailbox. Instead of restoring the original
# AD object, the admin restored the cloud user and created a new AD account
# with the same UPN. The restored cloud user keeps its old immutable ID, so
# sync can neither hard match it (the anchors differ) nor soft match it (it
# has an immutable ID): it reports AttributeValueMustBeUnique and deletes the
# cloud user again, every cycle.
#
# The fix: restore the cloud user, clear its immutable ID, run an Initial
# cycle. Soft match then binds it to the new AD account and stamps the new
# anchor; the mailbox comes back with its ExchangeGuid.

runbook "restore-mistake" {
  title       = "Re-bind a cloud user restored by mistake to its new AD account"
  description = "Restore the cloud user, clear its immutable ID and run an Initial cycle so that soft match binds it to the new AD account."
  approvals   = 1
}

variable "upn" {
  type        = string
  pii         = true
  description = "The user's userPrincipalName, the same on the new AD account and the cloud user."
}

variable "soft_match_blocked" {
  type        = string
  default     = ""
  description = "Only when rebind cannot read it itself: whether the tenant blocks soft match, \"no\" or \"yes\", as a Global Administrator read it (Get-MgDirectoryOnPremiseSynchronization, Features.BlockSoftMatchEnabled, or the Entra admin center). Graph answers the read an app-only token 403: it supports delegated Global Administrator sign-in only."
}

# The targets this runbook needs. Where they are (hosts, the base DN, the
# tenant, the Connect server) is in an environment file, --env FILE (see
# examples/environments/prod.hcl); --lab or `rebind rehearse` binds them
# to a lab tenant instead.
target "entra" "tenant" {}
target "ad" "corp" {}

target "adsync" "connect" {}

# The new AD account, created by hand with the same UPN.
data "ad_user" "new" {
  target = target.ad.corp
  upn    = var.upn
}

# The cloud user, in the recycle bin or (restored) active.
data "entra_user" "cloud" {
  target  = target.entra.tenant
  upn     = var.upn
  deleted = true

  postcondition {
    condition     = self.observed.immutable_id != data.ad_user.new.immutable_id
    error_message = "The cloud user is already anchored to the new AD account: there is nothing to re-bind."
  }
}

# The fix relies on soft match; a tenant can switch it off.
data "entra_tenant" "tenant" {
  target = target.entra.tenant

  # GET /directory/onPremisesSynchronization supports delegated Global
  # Administrator sign-in only; with an app-only token the answer is
  # "unknown", and the admin's own reading stands in for it.
  postcondition {
    condition     = self.observed.soft_match != "unknown" || contains(["no", "yes"], var.soft_match_blocked)
    error_message = "rebind could not read whether the tenant blocks soft match: Graph refuses GET /directory/onPremisesSynchronization to this credential (it supports delegated sign-in of a Global Administrator only, never an app-only token). Have a Global Administrator check (Get-MgDirectoryOnPremiseSynchronization | Select -Expand Features | Select BlockSoftMatchEnabled, or the Entra admin center), then plan again with -var soft_match_blocked=no (or yes)."
  }

  postcondition {
    condition     = self.observed.soft_match == "allowed" || (self.observed.soft_match == "unknown" && var.soft_match_blocked != "yes")
    error_message = "The tenant blocks soft match (blockSoftMatchEnabled, as read by rebind or as given in soft_match_blocked). Clearing the immutable ID would leave the cloud user unmatched: set it to the new account's anchor instead (entra_immutable_id with immutable_id(data.ad_user.new.object_guid)), a hard match."
  }
}

# A cloud user already holding the new AD account's anchor. With duplicate
# attribute resiliency (every tenant's default since 2016) a new AD account
# whose soft match is refused is not blocked: Connect provisions it as a
# second cloud user, its UPN quarantined as prefix+NNNN@<initial domain>
# (learn.microsoft.com/entra/identity/hybrid/connect/
# how-to-connect-syncservice-duplicate-attribute-resiliency). That user
# then holds the anchor, and the Initial cycle below would hard match it
# instead of soft matching the restored user.
data "entra_users" "anchor_holder" {
  target = target.entra.tenant
  filter = "onPremisesImmutableId eq '${data.ad_user.new.immutable_id}'"

  postcondition {
    condition     = alltrue([for u in self.observed.users : u.id == data.entra_user.cloud.id])
    error_message = "Another cloud user already holds the new AD account's anchor: ${join(", ", [for u in self.observed.users : "${u.upn} (${u.id})" if u.id != data.entra_user.cloud.id])}. Duplicate attribute resiliency provisioned the new account beside the restored user (a UPN of the form prefix+NNNN@ the initial domain, with its conflicts in onPremisesProvisioningErrors). Clearing the restored user's immutable ID would not bind it: the next cycle hard matches that duplicate. Remove the duplicate first (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors: \"you might need to delete one of the objects in conflict\"): pause the Connect scheduler (Set-ADSyncScheduler -SyncCycleEnabled $false); move the new AD account out of the sync scope (an OU Connect does not sync) and run a Delta cycle, so Connect deletes the duplicate; purge it from the recycle bin (DELETE /directory/deletedItems/{id}); move the account back; plan this runbook again; turn the scheduler back on (Set-ADSyncScheduler -SyncCycleEnabled $true) after it ends."
  }
}

# A federated user's immutable ID is the identity its federation service
# issues (Graph requires it when a user is created with a UPN in a federated
# domain, learn.microsoft.com/graph/api/user-post-users) and Entra ID does
# not let it change while the UPN stays in that domain.
step "assert" "managed_domain" {
  condition     = !contains(data.entra_tenant.tenant.federated_domains, lower(element(split("@", data.entra_user.cloud.upn), 1)))
  error_message = "The cloud user's UPN ${data.entra_user.cloud.upn} is in a federated domain, so its immutable ID cannot be cleared. Move the user to a managed domain first (set its userPrincipalName to one in the initial domain with PATCH /users/{id} or Update-MgUser; moving between a federated and a managed domain changes the user's authentication type, learn.microsoft.com/powershell/module/msonline/set-msoluserprincipalname), then clear the immutable ID and run an Initial cycle by hand: soft match pairs on the primary SMTP address, and sync writes the AD account's UPN back."
}

# The original AD object, found by the anchor the cloud user still holds.
# It may be gone: a tombstone past its lifetime, or an anchor that is not an
# objectGUID of this domain (an mS-DS-ConsistencyGuid carried over from
# another forest). Then there is nothing to restore instead, and the value
# is null.
data "ad_deleted_user" "original" {
  target      = target.ad.corp
  object_guid = guid(data.entra_user.cloud.immutable_id)
  optional    = true

  postcondition {
    condition     = self.observed == null || self.observed.upn == null
    error_message = "The original AD object is in the AD Recycle Bin with its attributes. Restore it instead (same objectGUID, a clean hard match) and delete the new account; re-binding the cloud user to the new account is the second-best fix."
  }
}

# Connect's scheduler runs a Delta cycle every 30 minutes
# (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
# One that falls between the restore and the clear finds the restored user
# still holding its old anchor: it deletes it again (seed 000's loop) or,
# with duplicate attribute resiliency, provisions the new account beside
# it. The scheduler is held until the user is bound (Set-ADSyncScheduler
# -SyncCycleEnabled $false), then put back as it was; a rollback puts it
# back too.
step "adsync_scheduler" "hold" {
  target  = target.adsync.connect
  enabled = false
}

step "entra_user_restored" "restore" {
  target = target.entra.tenant
  upn    = var.upn

  precondition {
    condition     = !self.observed.deleted || self.observed.deleted_days_left > 0
    error_message = "The cloud user has left the 30-day recycle bin; it cannot be restored."
  }
}

step "entra_immutable_id" "clear" {
  target       = target.entra.tenant
  upn          = var.upn
  immutable_id = null
}

step "adsync_cycle" "initial" {
  target = target.adsync.connect
  policy = "Initial"
}

step "entra_user_state" "bound" {
  target       = target.entra.tenant
  upn          = var.upn
  await        = "3h"
  immutable_id = data.ad_user.new.immutable_id
  sync_enabled = true
}

step "adsync_scheduler" "release" {
  target  = target.adsync.connect
  enabled = step.adsync_scheduler.hold.observed.sync_cycle_enabled
}
