# Seed 002 (a): Exchange Online reports "Failed to sync the ArchiveGuid X of
# mailbox M because one cloud archive Y exists". The user has an online
# archive in the cloud, but msExchArchiveGUID on premises is empty or holds
# another GUID, and Exchange refuses to overwrite the cloud archive's GUID
# (that would cut the user off from the archive's data). Until it is fixed
# no Exchange attribute of the user flows from AD.
#
# The fix: copy the cloud ArchiveGuid into msExchArchiveGUID (as 16 bytes in
# AD's byte order, what Set-RemoteMailbox -ArchiveGuid writes), make sure
# mailNickname is set (Entra Connect's Exchange sync rule only runs for users
# that have one), run a sync cycle and wait until Exchange no longer reports
# the error.

runbook "archive-guid-mismatch" {
  title       = "Copy a user's cloud ArchiveGuid to msExchArchiveGUID on premises"
  description = "Write the cloud archive's ArchiveGuid into the AD user's msExchArchiveGUID (and mailNickname when it is missing), run a sync cycle and wait for Exchange's ArchiveGuid validation error to clear."
  approvals   = 1
}

variable "upn" {
  type        = string
  pii         = true
  description = "The affected user's userPrincipalName, the same in AD and in the cloud."
}

variable "alias" {
  type        = string
  default     = null
  description = "The Exchange alias to write as mailNickname when the AD user has none (Get-Mailbox UPN | fl Alias). Not used when mailNickname is set."
}

# The targets this runbook needs. Where they are (hosts, the base DN, the
# tenant, the Connect server) is in an environment file, --env FILE (see
# examples/environments/prod.hcl); --lab or `rebind rehearse` binds them
# to a lab tenant instead.
target "entra" "tenant" {}
target "exo" "tenant" {}
target "ad" "corp" {}
target "adsync" "connect" {}

data "ad_user" "user" {
  target = target.ad.corp
  upn    = var.upn
}

data "entra_user" "cloud" {
  target = target.entra.tenant
  upn    = var.upn

  postcondition {
    condition     = self.observed.immutable_id == data.ad_user.user.immutable_id
    error_message = "The cloud user is not anchored to this AD user (its immutable ID differs from the AD user's objectGUID): Exchange attributes written here would not reach it. Repair the pairing first (runbooks restore-mistake or rebuilt-ad-hard-match)."
  }
}

data "exo_mailbox" "cloud" {
  target   = target.exo.tenant
  identity = var.upn

  postcondition {
    condition     = self.observed.archive_guid != null
    error_message = "The cloud mailbox has no archive, so there is no cloud ArchiveGuid to copy: this is not the error this runbook fixes."
  }
  postcondition {
    condition     = !self.observed.soft_deleted
    error_message = "The cloud mailbox is soft-deleted: restore the user (and its license) first."
  }
  postcondition {
    condition     = data.ad_user.user.exchange_guid == null || data.ad_user.user.exchange_guid == self.observed.exchange_guid
    error_message = "msExchMailboxGuid on premises is not this cloud mailbox's ExchangeGuid: the AD user describes another mailbox. Find out which mailbox the AD user should point to before copying any GUID."
  }
}

# Exchange attributes flow only for users with a mailNickname.
step "ad_attribute" "mail_nickname" {
  target    = target.ad.corp
  upn       = var.upn
  attribute = "mailNickname"
  value     = data.ad_user.user.mail_nickname != null ? data.ad_user.user.mail_nickname : var.alias

  precondition {
    condition     = data.ad_user.user.mail_nickname != null || var.alias != null
    error_message = "The AD user has no mailNickname, so Entra Connect syncs none of its Exchange attributes and msExchArchiveGUID would never reach Exchange. Give the user's Exchange alias with -var alias=NAME (Get-Mailbox UPN | fl Alias) and plan again."
  }
}

step "ad_attribute" "archive_guid" {
  target    = target.ad.corp
  upn       = var.upn
  attribute = "msExchArchiveGUID"
  guid      = data.exo_mailbox.cloud.archive_guid
}

step "adsync_cycle" "delta" {
  target = target.adsync.connect
  policy = "Delta"
}

# Redo-MsolProvisionUser's "wait, then look again": until Exchange reports
# no unresolved provisioning error for the user.
step "entra_user_state" "errors_cleared" {
  target                 = target.entra.tenant
  upn                    = var.upn
  service_errors_cleared = true
  await                  = "6h"
}
