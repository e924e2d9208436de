# Cloud users made before AD was synced (cloud-only: no immutable ID) are
# to be taken over by AD accounts that now exist for them. Entra ID matches
# a new object from Connect to an existing cloud user by its sourceAnchor
# first ("hard match"), then by UPN or primary SMTP address ("soft match"),
# and "takes over the object in Microsoft Entra ID and the previously
# cloud-managed object is converted to on-premises managed"
# (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant).
# Soft match is often blocked (Microsoft advises it), or the UPN and
# address differ between the two; setting each cloud user's immutable ID to
# its AD account's anchor binds them by hard match instead.
#
# The fix: check what would stop the hard match (the tenant's takeover
# block, admin roles, federated domains, an anchor another cloud user holds
# or a cloud user already anchored), hold Connect's scheduler, keep a
# baseline, set the immutable IDs, and after a person approves the
# takeover run an Initial cycle and verify every user is bound.

runbook "hard-match-takeover" {
  title                  = "Bind cloud-only users to their AD accounts by hard match"
  description            = "Set each cloud-only user's immutable ID to its AD account's source anchor after checking the takeover block, admin roles, federated domains and conflicting anchors, run an Initial cycle behind an approval, and verify every user is bound."
  approvals              = 1
  irreversible_approvals = 2
}

variable "users" {
  type        = map(string)
  description = "The cloud users to bind: each cloud user's UPN => the UPN of the AD account that takes it over (often the same)."
}

variable "search_base" {
  type        = string
  default     = null
  description = "Where to search for the AD accounts (default: the AD target's base DN)."
}

variable "baseline" {
  type        = string
  default     = "hard-match-takeover-baseline.json"
  description = "Where the baseline of every cloud user (addresses, licenses) is written before anything changes."
}

variable "takeover_blocked" {
  type        = string
  default     = ""
  description = "Only when rebind cannot read it itself: whether the tenant blocks cloud object takeover through hard match, \"no\" or \"yes\", as a Global Administrator read it (Get-MgDirectoryOnPremiseSynchronization, Features.BlockCloudObjectTakeoverThroughHardMatchEnabled). Graph answers that read an app-only token 403: it supports delegated Global Administrator sign-in only."
}

variable "max_errors" {
  type        = string
  default     = "0"
  description = "How many users (a count or a percentage such as \"5%\") may fail a fan-out step before the run stops."
}

target "entra" "tenant" {}
target "ad" "corp" {}
target "adsync" "connect" {}

locals {
  # Cloud UPN (lower case) => AD UPN (lower case).
  wanted = { for c, a in var.users : lower(trimspace(c)) => lower(trimspace(a)) }
}

# The AD accounts that take the cloud users over.
module "accounts" {
  source      = "ad-accounts"
  upns        = distinct(values(local.wanted))
  search_base = var.search_base
}

data "entra_users" "cloud" {
  target = target.entra.tenant
}

data "entra_users" "deleted" {
  target  = target.entra.tenant
  deleted = true
}

data "entra_tenant" "tenant" {
  target = target.entra.tenant
}

locals {
  users = { for c, a in local.wanted : c => {
    upn    = c
    ad_upn = a
    ad     = try(module.accounts.by_upn[a], null)
    cloud  = try(data.entra_users.cloud.by_upn[c], null)
    # The anchor Connect exports for the account: base64 of
    # mS-DS-ConsistencyGuid when set, else of objectGUID.
    anchor = try(module.accounts.by_upn[a].immutable_id, null)
  } }
  missing_in_ad    = [for c, u in local.users : u.ad_upn if u.ad == null]
  missing_in_cloud = [for c, u in local.users : c if u.cloud == null]
  found            = { for c, u in local.users : c => u if u.ad != null && u.cloud != null }
  # Cloud users already anchored or synced: not cloud-only.
  anchored = [for c, u in local.found : "${c} (immutable ID ${coalesce(u.cloud.immutable_id, "none")}, sync ${u.cloud.sync_enabled == null ? "never" : tostring(u.cloud.sync_enabled)})" if u.cloud.immutable_id != null || u.cloud.sync_enabled != null]
  # One AD account for two cloud users.
  shared = [for a, cs in { for c, u in local.found : u.ad_upn => c... } : "${a} (${join(", ", cs)})" if length(cs) > 1]
  # Cloud users (active or in the recycle bin) outside this run already
  # holding an account's anchor: a second object with the same immutable
  # ID cannot be made, and Connect would match that one.
  holders = [for x in concat(data.entra_users.cloud.users, data.entra_users.deleted.users) : "${x.upn} (${x.id}${x.deleted ? ", in the recycle bin" : ""}) holds ${x.immutable_id}, the anchor of ${[for c, u in local.found : u.ad_upn if u.anchor == x.immutable_id][0]}" if x.immutable_id != null && contains([for c, u in local.found : u.anchor], x.immutable_id)]
  federated = [for c, u in local.found : c if contains(data.entra_tenant.tenant.federated_domains, element(split("@", c), 1))]
}

# Directory roles of the cloud users: Entra ID will not match an
# on-premises user to a cloud user that holds an admin role.
data "entra_role_assignments" "roles" {
  target        = target.entra.tenant
  principal_ids = [for c, u in local.found : u.cloud.id]
}

locals {
  admins = [for c, u in local.found : "${c} (role template ${join(", ", data.entra_role_assignments.roles.by_principal[u.cloud.id])})" if length(data.entra_role_assignments.roles.by_principal[u.cloud.id]) > 0]
}

step "assert" "users_given" {
  condition     = length(local.wanted) > 0
  error_message = "Name the users to bind: -var 'users={\"cloud upn\" = \"AD account upn\"}'."
}

step "assert" "accounts_found" {
  condition     = length(local.missing_in_ad) == 0 && length(local.missing_in_cloud) == 0
  error_message = "Not found in AD: ${join(", ", local.missing_in_ad)}. No active cloud user: ${join(", ", local.missing_in_cloud)}. Every cloud user needs the AD account that takes it over; a cloud user in the recycle bin must be restored first."
}

step "assert" "cloud_only" {
  condition     = length(local.anchored) == 0
  error_message = "These cloud users are not cloud-only: ${join("; ", local.anchored)}. A synced user's anchor changes with rebuilt-ad-hard-match (a rebuilt AD) or consistency-guid-carryover (a forest move); one restored by mistake with restore-mistake. Leave them out."
}

step "assert" "one_account_each" {
  condition     = length(local.shared) == 0
  error_message = "One AD account cannot take over two cloud users: ${join("; ", local.shared)}."
}

step "assert" "anchors_free" {
  condition     = length(local.holders) == 0
  error_message = "Other cloud users already hold these anchors: ${join("; ", local.holders)}. An immutable ID is unique, and Connect hard matches the holder. If duplicate attribute resiliency provisioned the AD account beside its cloud user (a UPN of the form prefix+NNNN@ the initial domain), remove that duplicate first (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors: \"you might need to delete one of the objects in conflict\"): hold the Connect scheduler (Set-ADSyncScheduler -SyncCycleEnabled $false), move the AD account out of the sync scope (an OU Connect does not sync) and run a Delta cycle, so Connect deletes the duplicate, purge it from the recycle bin (DELETE /directory/deletedItems/{id}), move the account back, then plan again (rebind does not remove a duplicate that must go). If instead the cloud-only user is an unlicensed placeholder and the duplicate is to be kept, dar-duplicate-cleanup removes the placeholder."
}

# "To protect from untrusted on-premises users, Microsoft Entra ID won't
# match on-premises users with cloud users that have an admin role"
# (how-to-connect-install-existing-tenant, "Admin role considerations").
step "assert" "no_admin_roles" {
  condition     = length(local.admins) == 0
  error_message = "These cloud users hold directory roles, and Entra ID does not match an on-premises user to a cloud user with an admin role: ${join("; ", local.admins)}. Microsoft's way: remove the roles from the cloud user, bind it, then add them back if still needed (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant, \"Admin role considerations\"); Microsoft also \"strongly recommends against synchronizing on-premises accounts with pre-existing administrative accounts\". Leave them out, or remove their roles and plan again."
}

step "assert" "managed_domains" {
  condition     = length(local.federated) == 0
  error_message = "These cloud users' UPNs are in a federated domain, where their immutable ID is part of sign-in and cannot be set here: ${join(", ", local.federated)}. Move each UPN to a managed domain first, or leave them out."
}

# Hard match of a cloud-managed object is a takeover, which
# blockCloudObjectTakeoverThroughHardMatchEnabled refuses with
# InvalidHardMatch (learn.microsoft.com/entra/identity/hybrid/connect/
# tshoot-connect-sync-errors#invalidhardmatch).
module "takeover" {
  source           = "takeover-check"
  reading          = data.entra_tenant.tenant.hard_match_takeover
  takeover_blocked = var.takeover_blocked
  consequence      = "Every account would fail with InvalidHardMatch. Turn it off for the run (Update-MgDirectoryOnPremiseSynchronization with Features.BlockCloudObjectTakeoverThroughHardMatchEnabled = $false, learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant), plan again, and turn it back on once every user is bound (\"This flag should be set to True again after any matching has been completed\")."
}

# No scheduled cycle may see an account before its cloud user carries its
# anchor: with soft match blocked it would be provisioned beside it
# (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
step "adsync_scheduler" "hold" {
  target  = target.adsync.connect
  enabled = false
}

step "export" "baseline" {
  path = var.baseline
  rows = [for c, u in local.found : {
    upn = c, cloud_id = u.cloud.id, ad_upn = u.ad_upn, ad_dn = u.ad.dn, ad_object_guid = u.ad.object_guid,
    immutable_id_after = u.anchor, mail = u.cloud.mail, proxy_addresses = join(" ", u.cloud.proxy_addresses),
    ad_proxy_addresses = join(" ", u.ad.proxy_addresses), licenses = join(" ", u.cloud.licenses)
  }]
  columns = ["upn", "cloud_id", "ad_upn", "ad_dn", "ad_object_guid", "immutable_id_after", "mail", "proxy_addresses", "ad_proxy_addresses", "licenses"]
}

step "entra_immutable_id" "anchor" {
  for_each        = local.found
  max_concurrency = 10
  max_errors      = var.max_errors
  target          = target.entra.tenant
  upn             = each.key
  immutable_id    = each.value.anchor
}

step "approve" "takeover" {
  for_each = { takeover = join(", ", [for c, u in local.found : "${c} <= ${u.ad.dn}"]) }
  message  = "The next cycle takes these cloud users over: ${each.value}. From then on they are managed on premises: every attribute AD has a value for overwrites the cloud's (addresses included: compare proxy_addresses and ad_proxy_addresses in the baseline), and with password hash sync their password becomes the AD account's. Check the baseline, then approve."
}

# The Initial cycle; each AD account takes over its cloud user (the same
# one, with its licenses) under the AD account's UPN.
module "bind" {
  source     = "bind-cycle"
  max_errors = var.max_errors
  users = { for c, u in local.found : c => {
    upn = u.ad_upn, immutable_id = u.anchor, cloud_id = u.cloud.id, licenses = u.cloud.licenses, aliases = []
  } }
}

step "adsync_scheduler" "release" {
  target  = target.adsync.connect
  enabled = step.adsync_scheduler.hold.observed.sync_cycle_enabled
}
