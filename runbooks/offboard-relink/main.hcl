# Seed 003: Exchange on premises was decommissioned after the mailboxes moved
# to Exchange Online, and is being reinstalled (to manage the users' Exchange
# attributes, or to move mailboxes back). Two things are broken:
#
# 1. The users have cloud mailboxes but no remote mailbox on premises, and
#    their on-premises msExchMailboxGuid is empty: Exchange does not write
#    the cloud ExchangeGuid back, so a move or a hybrid would fail.
# 2. Some cloud users are still hard-paired (immutable ID) to AD objects that
#    no longer exist, so their re-created AD accounts fail with
#    AttributeValueMustBeUnique.
#
# The fix: keep a baseline of the cloud mailboxes (UPN, ExchangeGuid), make
# each user a remote mailbox (routing address alias@tenant.mail.onmicrosoft.com)
# with the cloud ExchangeGuid, written only where it differs; for the
# orphaned users turn sync off, wait until they are cloud-managed, clear
# their immutable IDs, turn sync on, run an Initial cycle and confirm that
# each one paired with its AD account (same UPN and primary SMTP address).

runbook "offboard-relink" {
  title                  = "Re-link cloud mailboxes and orphaned cloud users to on-premises AD"
  description            = "Baseline the cloud mailboxes, enable remote mailboxes on premises with the cloud ExchangeGuid, and re-pair synced cloud users whose AD object is gone with their re-created AD accounts."
  approvals              = 1
  irreversible_approvals = 2
}

variable "takeover_blocked" {
  type        = string
  default     = ""
  description = "Only when rebind cannot read it itself: whether the tenant blocks cloud object takeover through hard match, \"no\" or \"yes\", as a Global Administrator read it (Get-MgDirectoryOnPremiseSynchronization, Features.BlockCloudObjectTakeoverThroughHardMatchEnabled). Graph answers that read an app-only token 403: it supports delegated Global Administrator sign-in only."
}

variable "mailboxes_csv" {
  type        = string
  default     = null
  description = "The cloud mailboxes as Exchange Online exports them: Get-Mailbox -ResultSize Unlimited | Select UserPrincipalName,Alias,ExchangeGuid | Export-Csv. Every row becomes a remote mailbox on premises. Give this or mailboxes."
}

variable "mailboxes" {
  type        = list(object({ UserPrincipalName = string, Alias = string, ExchangeGuid = string }))
  default     = null
  description = "The same rows as mailboxes_csv, given inline. Give this or mailboxes_csv."
}

variable "routing_domain" {
  type        = string
  description = "The tenant's routing domain for remote routing addresses, e.g. contoso.mail.onmicrosoft.com."
}

variable "relink_upns" {
  type        = list(string)
  default     = []
  description = "Synced cloud users whose AD object is gone and who must pair with a re-created AD account of the same UPN and primary SMTP address."
}

variable "baseline" {
  type        = string
  default     = "offboard-relink-baseline.json"
  description = "Where the baseline is written before anything changes."
}

# The targets this runbook needs. Where they are (hosts, the base DN, the
# tenant, the Connect server) is in an environment file, --env FILE (see
# examples/environments/prod.hcl); --lab or `rebind rehearse` binds them
# to a lab tenant instead.
target "entra" "tenant" {}
target "ad" "corp" {}

target "adsync" "connect" {}

locals {
  rows = var.mailboxes_csv != null ? csvdecode(file(var.mailboxes_csv)) : coalesce(var.mailboxes, [])
  mailboxes = { for r in local.rows : lower(trimspace(r.UserPrincipalName)) => {
    upn           = trimspace(r.UserPrincipalName)
    alias         = trimspace(r.Alias)
    exchange_guid = lower(trimspace(r.ExchangeGuid))
  } }
  relink    = toset([for u in var.relink_upns : lower(u)])
  all_upns  = setunion(toset(keys(local.mailboxes)), local.relink)
  relinking = length(local.relink) > 0
}

# The AD accounts of the mailboxes and of the users to re-pair.
module "ad" {
  source = "ad-accounts"
  upns   = local.all_upns
}

data "entra_users" "cloud" {
  target = target.entra.tenant
}

# The tenant's sync features and verified domains.
data "entra_tenant" "tenant" {
  target = target.entra.tenant
}

locals {
  ad = module.ad.by_upn
  # The primary SMTP address (SMTP: in upper case), lower-cased.
  ad_primary    = { for k, u in local.ad : k => lower(trimprefix(concat([for p in u.proxy_addresses : p if startswith(p, "SMTP:")], ["SMTP:"])[0], "SMTP:")) }
  cloud_primary = { for k, u in data.entra_users.cloud.by_upn : k => lower(trimprefix(concat([for p in u.proxy_addresses : p if startswith(p, "SMTP:")], ["SMTP:"])[0], "SMTP:")) }

  relink_users = { for k in local.relink : k => {
    upn          = try(local.ad[k].upn, k)
    immutable_id = try(local.ad[k].immutable_id, null)
  } }

  not_in_ad     = [for k in local.all_upns : k if !contains(keys(local.ad), k)]
  not_in_cloud  = [for k in local.relink : k if !contains(keys(data.entra_users.cloud.by_upn), k)]
  smtp_mismatch = [for k in local.relink : k if try(local.ad_primary[k] != local.cloud_primary[k] || local.ad_primary[k] == "", true)]
  federated     = [for k in local.relink : k if contains(data.entra_tenant.tenant.federated_domains, element(split("@", k), 1))]
}

step "assert" "one_source" {
  condition     = (var.mailboxes_csv == null) != (var.mailboxes == null)
  error_message = "Give the cloud mailboxes with mailboxes_csv (the Get-Mailbox export) or with mailboxes, exactly one of the two."
}

step "assert" "accounts_in_ad" {
  condition     = length(local.not_in_ad) == 0
  error_message = "No AD account has the UPN of: ${join(", ", local.not_in_ad)}. A remote mailbox needs the user's AD account, and a re-pairing needs the account to pair with: create it first (same UPN and primary SMTP address) or leave the user out."
}

step "assert" "relink_in_cloud" {
  condition     = length(local.not_in_cloud) == 0
  error_message = "No active cloud user has the UPN of: ${join(", ", local.not_in_cloud)}; there is nothing to re-pair."
}

step "assert" "relink_addresses_match" {
  condition     = length(local.smtp_mismatch) == 0
  error_message = "The primary SMTP address of the AD account and of the cloud user differ (or one has none) for: ${join(", ", local.smtp_mismatch)}. Soft match pairs on the primary SMTP address and the UPN: make them the same on premises first, or the cleared users will not pair."
}

# The users to re-pair: the AD objects they are still paired with must be
# gone, and no other cloud user may hold the anchor of the re-created
# account each is to pair with.
module "relink_anchors" {
  source      = "anchor-holders"
  cloud_users = data.entra_users.cloud.users
  users = { for k in local.relink : k => {
    cloud_id = try(data.entra_users.cloud.by_upn[k].id, ""), old_anchor = try(data.entra_users.cloud.by_upn[k].immutable_id, null), new_anchor = try(local.ad[k].immutable_id, null)
  } }
  old_consequence        = "They are still paired with cloud users listed in relink_upns, which are not orphaned: clearing their immutable IDs would unpair them."
  duplicates_consequence = "Duplicate attribute resiliency provisioned the re-created accounts beside the orphaned users (UPNs of the form prefix+NNNN@ the initial domain); the Initial cycle would keep them and never pair the orphaned users. Remove them first (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors: \"you might need to delete one of the objects in conflict\"): once directory sync is off and they are cloud-managed (this runbook's re-pairing turns it off and waits up to 72 hours), delete each (DELETE /users/{id}) and purge it from the recycle bin (DELETE /directory/deletedItems/{id}); then plan this runbook again."
}

# Turning sync back on after every synced user became cloud-managed takes
# them over through hard match, which
# blockCloudObjectTakeoverThroughHardMatchEnabled refuses with
# InvalidHardMatch (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors#invalidhardmatch).
# With an app-only token the switch reads "unknown" (the read supports
# delegated Global Administrator sign-in only); the admin's own reading,
# takeover_blocked, then stands in for it, and without it the plan stops.
module "relink_takeover" {
  source           = "takeover-check"
  applies          = local.relinking
  reading          = data.entra_tenant.tenant.hard_match_takeover
  takeover_blocked = var.takeover_blocked
  consequence      = "Re-pairing turns directory sync off, which makes every synced user cloud-managed; when it is turned back on each one would fail with InvalidHardMatch instead of binding again. Turn the feature off for the duration (PATCH /directory/onPremisesSynchronization/{id} with features.blockCloudObjectTakeoverThroughHardMatchEnabled = false, learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-update), plan this runbook again, and turn it back on when every user is synced."
}

step "assert" "relink_managed_domains" {
  condition     = length(local.federated) == 0
  error_message = "These users to re-pair have UPNs in a federated domain, where Entra ID does not let an immutable ID be cleared: ${join(", ", local.federated)}. Move each to a managed domain first (its userPrincipalName in the initial domain, with PATCH /users/{id} once it is cloud-managed; learn.microsoft.com/powershell/module/msonline/set-msoluserprincipalname) and re-pair it by hand, or leave it out of relink_upns."
}

step "export" "baseline" {
  path = var.baseline
  rows = [for k in sort(local.all_upns) : {
    upn                      = k
    cloud_exchange_guid      = try(local.mailboxes[k].exchange_guid, null)
    onprem_exchange_guid     = try(local.ad[k].exchange_guid, null)
    onprem_target_address    = try(local.ad[k].target_address, null)
    cloud_immutable_id       = try(data.entra_users.cloud.by_upn[k].immutable_id, null)
    ad_immutable_id          = try(local.ad[k].immutable_id, null)
    cloud_sync_enabled       = try(data.entra_users.cloud.by_upn[k].sync_enabled, null)
    relink                   = contains(local.relink, k)
  }]
  columns = ["upn", "cloud_exchange_guid", "onprem_exchange_guid", "onprem_target_address", "cloud_immutable_id", "ad_immutable_id", "cloud_sync_enabled", "relink"]
}

# Enable-RemoteMailbox, and Set-RemoteMailbox -ExchangeGuid only where the
# value differs: the step writes only the attributes that differ.
step "ad_remote_mailbox" "mailbox" {
  for_each        = local.mailboxes
  max_concurrency = 8
  max_errors      = 0
  target          = target.ad.corp
  upn             = each.value.upn
  alias           = each.value.alias
  routing_domain  = var.routing_domain
  exchange_guid   = each.value.exchange_guid
}

# Re-pairing: only when users are listed.
module "sync_off" {
  source  = "sync-off"
  enabled = local.relinking
  users   = local.relink_users
}

step "entra_dir_sync" "on" {
  for_each = local.relinking ? toset(["tenant"]) : toset([])
  target   = target.entra.tenant
  enabled  = true
}

# Full import and full sync: rebase the sync objects and soft match the
# cleared users; it also exports the new Exchange attributes.
step "adsync_cycle" "cycle" {
  target = target.adsync.connect
  policy = local.relinking ? "Initial" : "Delta"
}

# Paired: synced again, anchored to the re-created account, same UPN.
step "entra_user_state" "paired" {
  for_each            = local.relink_users
  max_concurrency     = 10
  target              = target.entra.tenant
  upn                 = each.value.upn
  user_principal_name = each.value.upn
  immutable_id        = each.value.immutable_id
  sync_enabled        = true
  await               = "3h"
  errors_since        = step.adsync_cycle.cycle.result.started
}
