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

  postcondition {
    condition     = self.observed.soft_match_blocked == false
    error_message = "The tenant blocks soft match (blockSoftMatchEnabled), or rebind could not read whether it does (it needs Graph OnPremDirectorySynchronization.Read.All). Clearing the immutable ID would leave the cloud user unmatched: set it to the new account's anchor instead (entra_immutable_id with immutable_id(data.ad_user.new.object_guid)), a hard match."
  }
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
