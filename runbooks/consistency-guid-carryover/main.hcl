# After an AD rebuild or a move to another forest, every user has a new AD
# account with a new objectGUID, while its cloud user keeps the immutable ID
# of the old account. Entra Connect with ms-DS-ConsistencyGuid as its source
# anchor hard matches on that attribute when it is set: written into the new
# account before Connect imports it, the old anchor binds the new account to
# the same cloud user (learn.microsoft.com/entra/identity/hybrid/connect/
# plan-connect-design-concepts#using-ms-ds-consistencyguid-as-sourceanchor:
# "To specify the sourceAnchor value for a given on-premises AD object,
# configure its ms-DS-ConsistencyGuid attribute before it's imported into
# Microsoft Entra Connect").
#
# The fix: check that Connect has not imported the new accounts yet (its
# scheduler is held) and that nothing else holds the anchors, keep a
# baseline, write each cloud user's immutable ID, as a GUID, into its new
# account's mS-DS-ConsistencyGuid, run the new server's first (Initial)
# cycle, verify each user was exported to by it with the same anchor, and
# let the scheduler run. Directory sync stays on; no immutable ID changes.

runbook "consistency-guid-carryover" {
  title                  = "Carry each cloud user's anchor into its new AD account's mS-DS-ConsistencyGuid after an AD rebuild or forest move"
  description            = "Write each cloud user's current immutable ID into the new AD account's mS-DS-ConsistencyGuid before the new Connect server imports it, run its first cycle and verify every user hard matched: no tenant-wide sync switch, no 72-hour window."
  approvals              = 1
  irreversible_approvals = 2
}

variable "users_csv" {
  type        = string
  default     = null
  description = "A CSV file with a `upn` column naming the users whose new AD accounts take their cloud user's anchor (give this or ad_filter)."
}

variable "ad_filter" {
  type        = string
  default     = null
  description = "An LDAP filter selecting the new AD accounts, e.g. (memberOf=CN=Migrated,OU=Groups,DC=corp,DC=example,DC=com) (give this or users_csv)."
}

variable "search_base" {
  type        = string
  default     = null
  description = "Where to search for the new accounts (default: the AD target's base DN)."
}

variable "baseline" {
  type        = string
  default     = "consistency-guid-baseline.json"
  description = "Where the baseline of every user (new account, cloud user, anchor) is written before anything changes."
}

variable "takeover_blocked" {
  type        = string
  default     = ""
  description = "Only when a cloud user is not synced (cloud-managed) and rebind cannot read it itself: whether the tenant blocks cloud object takeover through hard match, \"no\" or \"yes\", as a Global Administrator read it (Get-MgDirectoryOnPremiseSynchronization, Features.BlockCloudObjectTakeoverThroughHardMatchEnabled)."
}

variable "max_errors" {
  type        = string
  default     = "0"
  description = "How many users (a count or a percentage such as \"5%\") may fail a fan-out step before the run stops."
}

# Where these are is in an environment file (--env FILE); --lab or
# `rebind rehearse` binds them to a lab tenant. The adsync target is the
# NEW forest's Connect server.
target "entra" "tenant" {}
target "ad" "corp" {}
target "adsync" "connect" {}

# The new AD accounts: the CSV's users, or those the filter selects.
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

data "entra_tenant" "tenant" {
  target = target.entra.tenant
}

locals {
  # UPN (lower case) => the new account, its cloud user and the anchor to
  # carry: the cloud user's immutable ID as a GUID (null when it is not
  # base64 of 16 bytes, which a GUID attribute cannot hold).
  users = { for u in module.new.users : lower(u.upn) => {
    upn              = u.upn
    dn               = u.dn
    object_guid      = u.object_guid
    consistency_guid = u.consistency_guid
    own_anchor       = immutable_id(u.object_guid)
    cloud            = try(data.entra_users.cloud.by_upn[lower(u.upn)], null)
    anchor           = try(data.entra_users.cloud.by_upn[lower(u.upn)].immutable_id, null)
    anchor_guid      = try(guid(data.entra_users.cloud.by_upn[lower(u.upn)].immutable_id), null)
  } }

  missing_in_ad     = module.new.missing
  missing_in_cloud  = [for k, u in local.users : u.upn if u.cloud == null]
  without_anchor    = [for k, u in local.users : u.upn if u.cloud != null && u.anchor == null]
  not_a_guid        = [for k, u in local.users : "${u.upn} (${u.anchor})" if u.anchor != null && u.anchor_guid == null]
  carried           = { for k, u in local.users : k => u if u.anchor_guid != null }
  # A new account whose mS-DS-ConsistencyGuid already holds another value:
  # Connect wrote its objectGUID back when it imported it, or another
  # application uses the attribute.
  consistency_taken = [for k, u in local.carried : "${u.upn} (${u.consistency_guid})" if u.consistency_guid != null && u.consistency_guid != u.anchor_guid]
  # Two accounts cannot carry one anchor.
  shared_anchors = [for a, ks in { for k, u in local.carried : u.anchor => k... } : "${a} (${join(", ", ks)})" if length(ks) > 1]
  # A cloud user (active or in the recycle bin) holding a new account's own
  # objectGUID anchor was provisioned from it: Connect has imported and
  # exported that account already (with duplicate attribute resiliency, as
  # prefix+NNNN@ the initial domain).
  exported_already = [for c in concat(data.entra_users.cloud.users, data.entra_users.deleted.users) : "${c.upn} (${c.id}) holds ${c.immutable_id}, the anchor of ${[for k, u in local.users : u.upn if u.own_anchor == c.immutable_id][0]}" if c.immutable_id != null && contains([for k, u in local.users : u.own_anchor], c.immutable_id)]
  # A sync conflict recorded on a cloud user being carried over: Connect
  # has imported the new account and failed to export it.
  conflicts = [for k, u in local.carried : "${u.upn}: ${join("; ", [for e in u.cloud.provisioning_errors : "${e.category} on ${e.property} (${e.value})"])}" if length(u.cloud.provisioning_errors) > 0]
  # Cloud users that are not synced: binding them is a takeover through
  # hard match.
  cloud_managed = [for k, u in local.carried : u.upn if u.cloud.sync_enabled != true]
}

# Any other AD object in this directory already holding an anchor to carry,
# as its objectGUID (the old account was not moved away) or as its
# mS-DS-ConsistencyGuid (carried already to another account).
data "ad_users" "holders" {
  target = target.ad.corp
  filter = length(local.carried) == 0 ? "(!(objectClass=user))" : "(|${join("", flatten([for k, u in local.carried : ["(objectGUID=${ldap_guid_filter(u.anchor_guid)})", "(mS-DS-ConsistencyGuid=${ldap_guid_filter(u.anchor_guid)})"]]))})"
}

locals {
  new_dns = toset([for k, u in local.users : lower(u.dn)])
  holders = [for h in data.ad_users.holders.users : "${h.dn} holds ${h.immutable_id}" if !contains(local.new_dns, lower(h.dn))]
}

step "assert" "one_source" {
  condition     = (var.users_csv == null) != (var.ad_filter == null)
  error_message = "Name the new AD accounts with users_csv (a CSV with a upn column) or with ad_filter (an LDAP filter), exactly one of the two."
}

step "assert" "users_found" {
  condition     = length(keys(local.users)) > 0 && length(local.missing_in_ad) == 0
  error_message = "The AD search found ${length(keys(local.users))} accounts; not found in AD: ${join(", ", local.missing_in_ad)}. Every user must have its new AD account, with the UPN of its cloud user."
}

step "assert" "cloud_users_found" {
  condition     = length(local.missing_in_cloud) == 0
  error_message = "No active cloud user has the UPN of: ${join(", ", local.missing_in_cloud)}. There is no anchor to carry for them: a user in the recycle bin must be restored first; a new one is provisioned by sync without this runbook."
}

step "assert" "anchors_found" {
  condition     = length(local.without_anchor) == 0
  error_message = "These cloud users have no immutable ID, so there is no anchor to carry: ${join(", ", local.without_anchor)}. They are cloud-only: bind them with hard-match-takeover (or let soft match bind them), and leave them out of this run."
}

step "assert" "anchors_are_guids" {
  condition     = length(local.not_a_guid) == 0
  error_message = "These immutable IDs are not base64 of a 16-byte GUID, so mS-DS-ConsistencyGuid cannot hold them: ${join(", ", local.not_a_guid)}. The old Connect server used another source anchor attribute (employeeID, say); carry that attribute instead, by hand, and leave these users out."
}

step "assert" "consistency_guid_free" {
  condition     = length(local.consistency_taken) == 0
  error_message = "These new accounts already hold another mS-DS-ConsistencyGuid: ${join(", ", local.consistency_taken)}. Either Connect imported them and wrote their objectGUID back (then their source anchor can no longer change: \"configure its ms-DS-ConsistencyGuid attribute before it's imported into Microsoft Entra Connect\", learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-design-concepts), or another application uses the attribute. Use rebuilt-ad-hard-match for them."
}

step "assert" "anchors_unique" {
  condition     = length(local.shared_anchors) == 0 && length(local.holders) == 0
  error_message = "An anchor must name one AD object. Carried by several accounts: ${join(", ", local.shared_anchors)}. Already held by another object in this directory: ${join(", ", local.holders)}. An old account still in this forest keeps its objectGUID: delete or move it out of Connect's scope first."
}

step "assert" "not_imported_yet" {
  condition     = length(local.exported_already) == 0 && length(local.conflicts) == 0
  error_message = "Connect has already imported these new accounts, and their source anchor can no longer change (\"Once an on-premises AD object is imported into Microsoft Entra Connect ... you can't change its sourceAnchor value anymore\", learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-design-concepts). Provisioned from a new account: ${join("; ", local.exported_already)}. Sync conflicts on the cloud users: ${join("; ", local.conflicts)}. A duplicate must be removed by hand (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors: \"you might need to delete one of the objects in conflict\"): hold the Connect scheduler (Set-ADSyncScheduler -SyncCycleEnabled $false), move the AD account out of the sync scope (an OU Connect does not sync) and run a Delta cycle, so Connect deletes the duplicate, purge it from the recycle bin (DELETE /directory/deletedItems/{id}), move the account back); or re-anchor the cloud users to the new objectGUIDs with rebuilt-ad-hard-match."
}

# Binding a cloud user that is not synced is a takeover through hard
# match, which blockCloudObjectTakeoverThroughHardMatchEnabled refuses with
# InvalidHardMatch (learn.microsoft.com/entra/identity/hybrid/connect/
# tshoot-connect-sync-errors#invalidhardmatch). Users still synced (by the
# old forest's server) are not affected.
module "takeover" {
  source           = "takeover-check"
  applies          = length(local.cloud_managed) > 0
  reading          = data.entra_tenant.tenant.hard_match_takeover
  takeover_blocked = var.takeover_blocked
  context          = "These cloud users are not synced, so binding them takes them over through hard match: ${join(", ", local.cloud_managed)}. "
  consequence      = "These cloud users are not synced: ${join(", ", local.cloud_managed)}. Their new accounts would fail with InvalidHardMatch. Turn the feature off for the run (PATCH /directory/onPremisesSynchronization/{id}, features.blockCloudObjectTakeoverThroughHardMatchEnabled = false, learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-update) and back on after, or leave them out."
}

# Connect must not import a new account before its anchor is written
# (Set-ADSyncScheduler -SyncCycleEnabled $false,
# learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
# A scheduler found running has had every chance to import them already.
step "adsync_scheduler" "hold" {
  target  = target.adsync.connect
  enabled = false

  precondition {
    condition     = self.observed.sync_cycle_enabled == false
    error_message = "The new Connect server's scheduler is running, so it has most likely imported the new accounts already, and their source anchor can no longer change (learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-design-concepts). Use rebuilt-ad-hard-match. If the accounts are outside Connect's scope until now, hold the scheduler (Set-ADSyncScheduler -SyncCycleEnabled $false) and plan again."
  }
}

step "export" "baseline" {
  path = var.baseline
  rows = [for k, u in local.carried : {
    upn = u.upn, new_dn = u.dn, new_object_guid = u.object_guid, consistency_guid_before = u.consistency_guid,
    cloud_id = u.cloud.id, immutable_id = u.anchor, consistency_guid_after = u.anchor_guid, sync_enabled = u.cloud.sync_enabled,
    proxy_addresses = join(" ", u.cloud.proxy_addresses), licenses = join(" ", u.cloud.licenses)
  }]
  columns = ["upn", "new_dn", "new_object_guid", "consistency_guid_before", "cloud_id", "immutable_id", "consistency_guid_after", "sync_enabled", "proxy_addresses", "licenses"]
}

# The carry-over: the old anchor as the new account's source anchor.
step "ad_attribute" "carry" {
  for_each        = local.carried
  max_concurrency = 10
  max_errors      = var.max_errors
  target          = target.ad.corp
  dn              = each.value.dn
  attribute       = "mS-DS-ConsistencyGuid"
  guid            = each.value.anchor_guid
}

# The new server's first cycle (full import, sync and export). Each cloud
# user keeps its immutable ID and is exported to by this cycle: hard
# matched to its new account, still the same cloud user, with its licenses.
module "bind" {
  source             = "bind-cycle"
  max_errors         = var.max_errors
  synced_since_cycle = true
  users = { for k, u in local.carried : k => {
    upn = u.upn, immutable_id = u.anchor, cloud_id = u.cloud.id, licenses = u.cloud.licenses, aliases = []
  } }
}

# From now on the new server syncs on its schedule.
step "adsync_scheduler" "release" {
  target  = target.adsync.connect
  enabled = true
}
