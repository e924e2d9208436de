# Seed 002 (b): Exchange Online reports 'The value "G" of property
# "ExchangeGuid" (or "ArchiveGuid") is used by another recipient object'.
# Another recipient, almost always a soft-deleted mail user or mailbox left
# behind by an earlier deletion, holds the GUID the user's AD object carries,
# so Exchange cannot provision the user and no Exchange attribute flows.
#
# The fix: find the recipient holding the GUID (Get-Recipient
# -IncludeSoftDeletedRecipients G), release its litigation hold and the
# delay hold that follows if it is a mailbox on hold (after a person has
# checked whether its data must be kept; other holds stop the runbook with
# the steps to remove them), purge it (Remove-MailUser / Remove-Mailbox -PermanentlyDelete),
# retry the user's service provisioning (Redo-MsolProvisionUser, now Graph's
# retryServiceProvisioning) and wait until the error is gone.

runbook "exchange-guid-in-use" {
  title                  = "Purge the soft-deleted recipient holding a user's ExchangeGuid or ArchiveGuid"
  description            = "Find the soft-deleted recipient that holds the GUID Exchange reports as used by another recipient, release its litigation hold after an approval, purge it, re-provision the user and wait for the validation error to clear."
  approvals              = 1
  irreversible_approvals = 2
}

variable "upn" {
  type        = string
  pii         = true
  description = "The affected user's userPrincipalName, the same in AD and in the cloud."
}

variable "property" {
  type        = string
  default     = "ExchangeGuid"
  description = "The property the error names: ExchangeGuid (msExchMailboxGuid on premises) or ArchiveGuid (msExchArchiveGUID)."

  validation {
    condition     = contains(["ExchangeGuid", "ArchiveGuid"], var.property)
    error_message = "property must be ExchangeGuid or ArchiveGuid, as the error names it."
  }
}

# The targets this runbook needs. Where they are (hosts, the base DN, the
# tenant, the Connect server) is in an environment file, --env FILE (see
# examples/environments/prod.hcl); --lab or `rebind rehearse` binds them
# to a lab tenant instead.
target "entra" "tenant" {}
target "exo" "tenant" {}
target "ad" "corp" {}

data "ad_user" "user" {
  target = target.ad.corp
  upn    = var.upn

  postcondition {
    condition     = (var.property == "ArchiveGuid" ? self.observed.archive_guid : self.observed.exchange_guid) != null
    error_message = "The AD user carries no GUID for this property (msExchMailboxGuid or msExchArchiveGUID is empty), so no other recipient can be holding it: this is not the error this runbook fixes."
  }
}

data "entra_user" "cloud" {
  target = target.entra.tenant
  upn    = var.upn

  postcondition {
    condition     = self.observed.immutable_id == data.ad_user.user.immutable_id
    error_message = "The cloud user is not anchored to this AD user (its immutable ID differs from the AD user's objectGUID). Repair the pairing first (runbooks restore-mistake or rebuilt-ad-hard-match)."
  }
}

locals {
  # Read from AD, not from the error text: it stays the same while the
  # runbook runs, so a resumed run sees the same GUID.
  guid = var.property == "ArchiveGuid" ? data.ad_user.user.archive_guid : data.ad_user.user.exchange_guid
}

# Get-Recipient -IncludeSoftDeletedRecipients GUID.
data "exo_recipient" "holder" {
  target   = target.exo.tenant
  identity = local.guid
}

locals {
  # Recipients holding the GUID that are not the user itself.
  others = [for r in data.exo_recipient.holder.recipients : r if r.external_directory_object_id != data.entra_user.cloud.id]
  # A soft-deleted mailbox may hold mail (and a hold); a mail user holds none.
  mailboxes = { for r in local.others : r.exchange_object_id => r if r.soft_deleted && r.type != "MailUser" }
}

# Get-Recipient does not show a mailbox's holds; Get-Mailbox does
# (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
# Null when no soft-deleted mailbox holds the GUID (a mail user does).
data "exo_mailbox" "holder" {
  target   = target.exo.tenant
  identity = length(local.mailboxes) == 1 ? keys(local.mailboxes)[0] : local.guid
  optional = true
}

# The Entra users in the recycle bin: a soft-deleted mailbox whose user is
# still there cannot be removed.
data "entra_users" "recycle_bin" {
  target  = target.entra.tenant
  deleted = true
}

locals {
  holder_mailbox = length(local.mailboxes) == 1 ? data.exo_mailbox.holder : null
  # Holds rebind does not remove: eDiscovery holds (UniH...), retention
  # policies (mbx..., skp..., grp...), In-Place Holds, retention labels. An
  # exclusion from an organization-wide policy (-mbx...) holds nothing.
  other_holds = local.holder_mailbox == null ? [] : concat(
    [for h in local.holder_mailbox.in_place_holds : h if !startswith(h, "-")],
    local.holder_mailbox.compliance_tag_hold ? ["ComplianceTagHoldApplied (a retention label on an item)"] : []
  )
  holder_user_deleted = [for u in data.entra_users.recycle_bin.users : u if contains([for r in values(local.mailboxes) : r.external_directory_object_id], u.id)]
}

# The diagnosis, checked once before anything is written.
step "assert" "error_reported" {
  condition     = length([for e in data.entra_user.cloud.service_provisioning_errors : e if !e.resolved && strcontains(lower(e.text), lower(local.guid)) && strcontains(e.text, "used by another recipient")]) > 0
  error_message = "Exchange reports no \"is used by another recipient\" error naming this user's ${var.property} for this user. Check the error (onPremisesProvisioningErrors / serviceProvisioningErrors) and the property you gave."
}

step "assert" "holder_found" {
  condition     = length(local.others) == 1 && length([for r in local.others : r if !r.soft_deleted]) == 0
  error_message = "Expected exactly one soft-deleted recipient to hold the GUID, found ${length(local.others)} (soft-deleted: ${length([for r in local.others : r if r.soft_deleted])}). An active recipient holding it is another user: decide whether that user may be removed before anything is purged; rebind purges only soft-deleted recipients."
}

# An inactive mailbox is kept until every hold is removed
# (learn.microsoft.com/purview/delete-an-inactive-mailbox). rebind releases
# a litigation hold and the delay hold that follows it; the holds that
# belong to a compliance policy or case are a records manager's call.
step "assert" "no_policy_holds" {
  condition     = length(local.other_holds) == 0
  error_message = "The soft-deleted mailbox holding the GUID is kept by holds rebind does not remove: ${join(", ", local.other_holds)}. Remove each one first, as learn.microsoft.com/purview/delete-an-inactive-mailbox describes, once records management agrees its data need not be kept: an organization-wide retention policy (mbx...) with Set-Mailbox <ExchangeObjectId> -ExcludeFromOrgHolds <policy GUID without prefix or suffix>; a retention policy for specific mailboxes with Set-RetentionCompliancePolicy -Identity <policy GUID> -RemoveExchangeLocation <ExchangeObjectId>; an eDiscovery hold (UniH...) by removing the mailbox from its case hold policy (Get-CaseHoldPolicy <GUID without UniH>); an In-Place Hold with Set-MailboxSearch / Remove-MailboxSearch. Then plan this runbook again."
}

# The mailbox's own user must be gone from the recycle bin first.
step "assert" "holder_user_purged" {
  condition     = length(local.holder_user_deleted) == 0
  error_message = "The user of the soft-deleted mailbox holding the GUID is still in the Entra ID recycle bin (${join(", ", [for u in local.holder_user_deleted : "${u.upn} (${u.id})"])}); the mailbox cannot be removed while it is there. Decide whether that user must be restored instead; if not, purge it (DELETE /directory/deletedItems/{id}, or wait until its 30 days pass) and plan this runbook again."
}

# A soft-deleted mailbox is purged with its mail: a person decides.
step "approve" "purge_mailbox" {
  for_each = local.mailboxes
  message  = "The soft-deleted mailbox ${each.value.upn} (ExchangeObjectId ${each.key}, litigation hold ${try(local.holder_mailbox.litigation_hold, false) ? "on" : "off"}, delay hold ${try(local.holder_mailbox.delay_hold || local.holder_mailbox.delay_release_hold, false) ? "on" : "off"}) holds ${var.upn}'s ${var.property}. Its litigation hold is released, the 30-day delay hold Exchange places after a release is removed, and it is purged for good, with its mail. Check with legal / records management whether its data must be kept (export it first if so), then approve."
}

step "exo_hold" "release" {
  for_each = local.mailboxes
  target   = target.exo.tenant
  identity = each.key
  enabled  = false
}

# "After any type of hold is removed from a mailbox, a delay hold is
# applied"; it keeps the mailbox on hold for 30 days unless removed with
# Set-Mailbox -InactiveMailbox -RemoveDelayHoldApplied
# (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
step "exo_delay_hold" "release" {
  for_each = local.mailboxes
  target   = target.exo.tenant
  identity = each.key
}

step "exo_recipient_purge" "holder" {
  target   = target.exo.tenant
  identity = local.guid
}

# POST /users/{id}/retryServiceProvisioning, Graph's counterpart of
# Redo-MsolProvisionUser
# (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning). It
# is what has Exchange validate the user again: the user's AD object did not
# change, so a sync cycle would export nothing for it and trigger nothing.
# A refusal therefore fails the run (after the retries) instead of being
# passed over.
step "entra_user_reprovision" "user" {
  target = target.entra.tenant
  upn    = var.upn

  retry {
    attempts = 3
    backoff  = "10s"
  }
}

# Redo-MsolProvisionUser's "wait, then look again": until Exchange reports
# no unresolved provisioning error for the user.
step "entra_user_state" "errors_cleared" {
  target                 = target.entra.tenant
  upn                    = var.upn
  service_errors_cleared = true
  await                  = "6h"
}
