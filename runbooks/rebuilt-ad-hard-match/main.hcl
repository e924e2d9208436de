# Seed 001: Active Directory was rebuilt and its users re-created, so every
# user has a new objectGUID. The cloud users keep the immutable IDs of the
# old accounts: Entra Connect cannot hard match them, cannot soft match them
# (they have immutable IDs), and every export fails with
# AttributeValueMustBeUnique on their addresses.
#
# The fix: keep a baseline (addresses and licenses included), turn directory sync off and wait (up to 72 hours)
# until the users are cloud-managed, clear their immutable IDs, purge the
# stale users in the recycle bin that hold the same addresses, set each
# immutable ID to base64(objectGUID) of the new account (a hard match), turn
# sync back on, run an Initial cycle and verify that every user is bound
# and kept its licenses and aliases.

runbook "rebuilt-ad-hard-match" {
  title                  = "Hard match cloud users to their re-created AD accounts after an AD rebuild"
  description            = "Turn directory sync off, wait until the users are cloud-managed, re-anchor each cloud user to the objectGUID of its new AD account, purge the stale recycle-bin users holding their addresses, turn sync on, run an Initial cycle and verify every user is bound."
  approvals              = 1
  irreversible_approvals = 2
}

variable "takeover_blocked" {
  type        = string
  default     = ""
  description = "Only when rebind cannot read it itself: whether the tenant blocks cloud object takeover through hard match, \"no\" or \"yes\", as a Global Administrator read it (Get-MgDirectoryOnPremiseSynchronization, Features.BlockCloudObjectTakeoverThroughHardMatchEnabled). Graph answers that read an app-only token 403: it supports delegated Global Administrator sign-in only."
}

variable "users_csv" {
  type        = string
  default     = null
  description = "A CSV file with a `upn` column naming the re-created users (give this or ad_filter)."
}

variable "ad_filter" {
  type        = string
  default     = null
  description = "An LDAP filter selecting the re-created users, e.g. (memberOf=CN=Staff,OU=Groups,DC=corp,DC=example,DC=com) (give this or users_csv)."
}

variable "search_base" {
  type        = string
  default     = null
  description = "Where to search for the users (default: the AD target's base DN)."
}

variable "baseline" {
  type        = string
  default     = "rebuilt-ad-baseline.json"
  description = "Where the baseline of every user and stale object is written before anything changes."
}

variable "max_errors" {
  type        = string
  default     = "0"
  description = "How many users (a count or a percentage such as \"5%\") may fail a fan-out step before the run stops."
}

# The targets this runbook needs. Where they are (hosts, the base DN, the
# tenant, the Connect server) is in an environment file, --env FILE (see
# examples/environments/prod.hcl); --lab or `rebind rehearse` binds them
# to a lab tenant instead.
target "entra" "tenant" {}
target "ad" "corp" {}

target "adsync" "connect" {}

# The re-created AD accounts: the CSV's users, or those the filter selects.
module "new" {
  source      = "ad-accounts"
  users_csv   = var.users_csv
  ad_filter   = var.ad_filter
  search_base = var.search_base
}

data "entra_users" "cloud" {
  target = target.entra.tenant
}

data "entra_users" "deleted" {
  target  = target.entra.tenant
  deleted = true
}

# The tenant's sync features and verified domains.
data "entra_tenant" "tenant" {
  target = target.entra.tenant
}

locals {
  # Every address a user or stale object holds, lower case, without prefix.
  new_addresses = toset(flatten([for u in module.new.users : concat(
    [lower(u.upn)], [for m in [u.mail] : lower(m) if m != null], [for p in u.proxy_addresses : trimprefix(lower(p), "smtp:")]
  )]))

  # UPN (lower case) => the AD account, its new anchor and its cloud user.
  users = { for u in module.new.users : lower(u.upn) => {
    upn          = u.upn
    object_guid  = u.object_guid
    immutable_id = u.immutable_id
    cloud        = try(data.entra_users.cloud.by_upn[lower(u.upn)], null)
  } }

  missing_in_ad    = module.new.missing
  missing_in_cloud = [for k, u in local.users : u.upn if u.cloud == null]

  # Recycle-bin users holding an address of a user being fixed: they make
  # sync quarantine the address again. Nothing else in the bin is touched.
  # A UPN is compared as it was before deletion (the bin may show it
  # prefixed with the object id).
  stale = { for d in data.entra_users.deleted.users : d.id => d if length(setintersection(local.new_addresses, toset(concat(
    [lower(d.original_upn)], [for m in [d.mail] : lower(m) if m != null], [for p in d.proxy_addresses : trimprefix(lower(p), "smtp:")]
  )))) > 0 }

  # Users whose UPN is in a federated domain: their immutable IDs cannot
  # be changed.
  federated = [for k, u in local.users : u.upn if contains(data.entra_tenant.tenant.federated_domains, element(split("@", k), 1))]
}

# The diagnosis, checked once before anything is written.
step "assert" "one_source" {
  condition     = (var.users_csv == null) != (var.ad_filter == null)
  error_message = "Name the re-created users with users_csv (a CSV with a upn column) or with ad_filter (an LDAP filter), exactly one of the two."
}

step "assert" "users_found" {
  condition     = length(keys(local.users)) > 0 && length(local.missing_in_ad) == 0
  error_message = "The AD search found ${length(keys(local.users))} users; not found in AD: ${join(", ", local.missing_in_ad)}. Check the CSV or the filter: every user must have its re-created AD account."
}

step "assert" "cloud_users_found" {
  condition     = length(local.missing_in_cloud) == 0
  error_message = "No active cloud user has the UPN of: ${join(", ", local.missing_in_cloud)}. A hard match needs the cloud user to re-bind to; a user missing in the cloud is either in the recycle bin (restore it first) or new (sync provisions it without this runbook)."
}

step "assert" "something_to_fix" {
  condition     = length([for k, u in local.users : k if try(u.cloud.immutable_id != u.immutable_id, true)]) > 0
  error_message = "Every cloud user is already anchored to its AD account's objectGUID: there is nothing to re-bind, and no reason to turn directory sync off."
}

# An old anchor that names a live AD object means that account was not
# re-created; another cloud user (active or in the recycle bin) holding a
# new anchor is a duplicate that must go first.
module "anchors" {
  source      = "anchor-holders"
  cloud_users = concat(data.entra_users.cloud.users, data.entra_users.deleted.users)
  users = { for k, u in local.users : k => {
    cloud_id = try(u.cloud.id, ""), old_anchor = try(u.cloud.immutable_id, null), new_anchor = u.immutable_id
  } }
  old_consequence        = "They were not re-created; re-anchoring their cloud users would cut them off. Leave them out of the CSV or filter."
  duplicates_consequence = "Duplicate attribute resiliency provisioned the re-created accounts beside the users being re-bound (UPNs of the form prefix+NNNN@ the initial domain). An immutable ID is unique, so the anchors cannot be written while they hold them. Remove them first (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors: \"you might need to delete one of the objects in conflict\"): once directory sync is off and they are cloud-managed (this runbook's first writes do that; it waits up to 72 hours), delete each (DELETE /users/{id}) and purge it from the recycle bin (DELETE /directory/deletedItems/{id}), after checking it holds nothing to keep; then plan this runbook again."
}

# Turning sync back on after the users became cloud-managed takes them over
# through hard match, which blockCloudObjectTakeoverThroughHardMatchEnabled
# refuses with InvalidHardMatch
# (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors#invalidhardmatch).
# With an app-only token the switch reads "unknown" (the read supports
# delegated Global Administrator sign-in only); the admin's own reading,
# takeover_blocked, then stands in for it, and without it the plan stops.
module "takeover" {
  source           = "takeover-check"
  reading          = data.entra_tenant.tenant.hard_match_takeover
  takeover_blocked = var.takeover_blocked
  consequence      = "Once sync is turned off every synced user becomes cloud-managed, and when it is turned back on each one would fail with InvalidHardMatch instead of binding. Turn the feature off for the duration (PATCH /directory/onPremisesSynchronization/{id} with features.blockCloudObjectTakeoverThroughHardMatchEnabled = false, learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-update), plan this runbook again, and turn it back on when every user is bound."
}

step "assert" "managed_domains" {
  condition     = length(local.federated) == 0
  error_message = "These users' UPNs are in a federated domain, where Entra ID does not let an immutable ID change: ${join(", ", local.federated)}. Move each to a managed domain first (its userPrincipalName in the initial domain, with PATCH /users/{id} once it is cloud-managed; learn.microsoft.com/powershell/module/msonline/set-msoluserprincipalname), re-anchor it by hand, and leave it out of this run; sync writes the AD account's UPN back once it is bound."
}

step "export" "baseline" {
  path = var.baseline
  rows = concat(
    [for k, u in local.users : {
      kind = "user", upn = u.upn, cloud_id = u.cloud.id, immutable_id_before = u.cloud.immutable_id,
      immutable_id_after = u.immutable_id, new_object_guid = u.object_guid, sync_enabled = u.cloud.sync_enabled,
      proxy_addresses = join(" ", u.cloud.proxy_addresses), licenses = join(" ", u.cloud.licenses)
    }],
    [for id, d in local.stale : {
      kind = "stale-recycle-bin", upn = d.upn, cloud_id = id, immutable_id_before = d.immutable_id,
      immutable_id_after = null, new_object_guid = null, sync_enabled = d.sync_enabled,
      proxy_addresses = join(" ", d.proxy_addresses), licenses = join(" ", d.licenses)
    }]
  )
  columns = ["kind", "upn", "cloud_id", "immutable_id_before", "immutable_id_after", "new_object_guid", "sync_enabled", "proxy_addresses", "licenses"]
}

# Sync off (irreversible for up to 72 hours), wait until the users are
# cloud-managed, and clear their immutable IDs. Cleared first: a user whose
# new anchor cannot be written below is still soft matched by the Initial
# cycle instead of staying anchored to a dead forest.
module "sync_off" {
  source     = "sync-off"
  users      = local.users
  max_errors = var.max_errors
}

step "approve" "purge_stale" {
  for_each = length(keys(local.stale)) == 0 ? {} : { stale = join(", ", [for id, d in local.stale : "${d.upn} (${id})"]) }
  message  = "These users in the recycle bin hold addresses of the users being re-bound and are purged for good: ${each.value}. Check that none of them must be restored instead, then approve."
}

step "entra_user_purge" "stale" {
  for_each        = local.stale
  max_concurrency = 4
  target          = target.entra.tenant
  id              = each.key
}

# The hard match: base64 of the new objectGUID in AD's byte order.
step "entra_immutable_id" "anchor" {
  for_each        = local.users
  max_concurrency = 10
  max_errors      = var.max_errors
  target          = target.entra.tenant
  upn             = each.value.upn
  immutable_id    = each.value.immutable_id
}

step "entra_dir_sync" "on" {
  target  = target.entra.tenant
  enabled = true
}

# Seed 001: "the user accounts become unlicensed"; and sync writes the
# AD account's proxyAddresses over the cloud's, so an alias added only in
# the cloud is gone. Both are checked against the baseline once the
# Initial cycle has bound each user to its new anchor.
module "bind" {
  source     = "bind-cycle"
  max_errors = var.max_errors
  # (try: a user without a cloud user is cloud_users_found's to report.)
  users = { for k, u in local.users : k => {
    upn = u.upn, immutable_id = u.immutable_id, cloud_id = null, licenses = try(u.cloud.licenses, []), aliases = try(u.cloud.proxy_addresses, [])
  } }
}
