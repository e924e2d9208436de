# Duplicate attribute resiliency: when an AD account cannot be matched to
# the cloud user that holds its UPN or primary address (soft match blocked
# or refused), Connect provisions it as a second cloud user; "Microsoft
# Entra ID quarantines the duplicate attribute": the UPN becomes
# <prefix>+<4 digits>@<initial domain>, the address is dropped, and the
# conflict is recorded on the new object (onPremisesProvisioningErrors)
# (learn.microsoft.com/entra/identity/hybrid/connect/
# how-to-connect-syncservice-duplicate-attribute-resiliency).
#
# This runbook finds, for each AD account named, the duplicate (the synced
# cloud user holding the account's anchor, with quarantined values) and the
# cloud user it conflicts with (the original), decides which survives by
# the rules in its README, and when the duplicate survives removes the
# original behind an approval ("you might need to delete one of the objects
# in conflict", tshoot-connect-sync-errors), runs an Initial cycle so that
# the account's values are exported again, and waits until the duplicate
# has its UPN and addresses back with no conflict left. When the original
# must survive, it stops and says how.

runbook "dar-duplicate-cleanup" {
  title                  = "Resolve the duplicates duplicate attribute resiliency provisioned beside cloud users"
  description            = "For each AD account, find the duplicate cloud user holding its anchor and the cloud user it conflicts with, decide the survivor by documented rules, delete and purge the other behind an approval, run an Initial cycle and verify the survivor got its UPN and addresses back."
  approvals              = 1
  irreversible_approvals = 2
}

variable "accounts" {
  type        = list(string)
  description = "The UPNs of the AD accounts whose duplicates to resolve."
}

variable "search_base" {
  type        = string
  default     = null
  description = "Where to search for the AD accounts (default: the AD target's base DN)."
}

variable "baseline" {
  type        = string
  default     = "dar-duplicate-baseline.json"
  description = "Where every duplicate and original is written, whole, before anything changes."
}

target "entra" "tenant" {}
target "ad" "corp" {}
target "adsync" "connect" {}

locals {
  wanted = toset([for a in var.accounts : lower(trimspace(a))])
}

# The AD accounts named.
module "accounts" {
  source      = "ad-accounts"
  upns        = local.wanted
  search_base = var.search_base
}

data "entra_users" "cloud" {
  target = target.entra.tenant
}

data "entra_users" "deleted" {
  target  = target.entra.tenant
  deleted = true
}

locals {
  everyone = concat(data.entra_users.cloud.users, data.entra_users.deleted.users)
  pairs = { for k, a in module.accounts.by_upn : k => {
    upn    = a.upn
    dn     = a.dn
    anchor = a.immutable_id
    # The cloud users holding the account's anchor: the account's own.
    holders = [for c in data.entra_users.cloud.users : c if c.immutable_id == a.immutable_id]
  } }
  found = { for k, p in local.pairs : k => merge(p, {
    dup = try(p.holders[0], null)
    # The values quarantined on the duplicate (UPN, addresses), as the
    # conflict names them: lower case, an address without its smtp: prefix.
    conflicts = try([for e in p.holders[0].provisioning_errors : lower(trimprefix(lower(e.value), "smtp:")) if e.category == "PropertyConflict"], [])
  }) if length(p.holders) == 1 }
  # The originals: other cloud users, active or in the recycle bin,
  # holding a value quarantined on the duplicate (a UPN as it was before
  # deletion: the recycle bin may show it prefixed with the object id).
  cases = { for k, p in local.found : k => merge(p, {
    originals = [for c in local.everyone : c if c.id != p.dup.id && length(setintersection(toset(p.conflicts), toset(concat(
      [lower(c.original_upn)], [for m in [c.mail] : lower(m) if m != null], [for x in c.proxy_addresses : trimprefix(lower(x), "smtp:")]
    )))) > 0]
  }) }

  missing   = module.accounts.missing
  ambiguous = [for k, p in local.pairs : "${p.upn} (${length(p.holders)} cloud users hold its anchor ${p.anchor})" if length(p.holders) != 1]
  # Rule 1: the cloud user holding the anchor is a duplicate only if it is
  # synced and has quarantined values.
  not_duplicates = [for k, p in local.cases : "${p.upn}: ${p.dup.upn} (${p.dup.id})" if p.dup.sync_enabled != true || length(p.conflicts) == 0]
  no_original    = [for k, p in local.cases : "${p.upn}: ${p.dup.upn}" if length(p.originals) == 0]
  many_originals = [for k, p in local.cases : "${p.upn}: ${join(", ", [for o in p.originals : "${o.upn} (${o.id})"])}" if length(p.originals) > 1]
  single         = { for k, p in local.cases : k => merge(p, { original = p.originals[0] }) if length(p.originals) == 1 }
  # Rule 2: an original that is synced belongs to another AD object; one
  # with licenses (and so, often, a mailbox) or in the recycle bin with
  # licenses must survive. Rule 3: an original with a directory role is
  # never removed by this runbook.
  synced_originals   = [for k, p in local.single : "${p.original.upn} (${p.original.id}), synced with ${coalesce(p.original.immutable_id, "no anchor")}" if p.original.sync_enabled == true]
  licensed_originals = [for k, p in local.single : "${p.original.upn} (${p.original.id}${p.original.deleted ? ", in the recycle bin" : ""}, skuId ${join(", ", p.original.licenses)}) beside ${p.dup.upn}" if length(p.original.licenses) > 0]
}

data "entra_role_assignments" "roles" {
  target        = target.entra.tenant
  principal_ids = [for k, p in local.single : p.original.id if !p.original.deleted]
}

locals {
  admin_originals = [for k, p in local.single : "${p.original.upn} (${p.original.id})" if !p.original.deleted && length(try(data.entra_role_assignments.roles.by_principal[p.original.id], [])) > 0]
  # Original id => what is removed, for the fan-outs.
  remove        = { for k, p in local.single : p.original.id => p.original }
  remove_active = { for id, o in local.remove : id => o if !o.deleted }
}

step "assert" "accounts_found" {
  condition     = length(local.wanted) > 0 && length(local.missing) == 0
  error_message = "Name the AD accounts in accounts; not found in AD: ${join(", ", local.missing)}."
}

step "assert" "one_holder" {
  condition     = length(local.ambiguous) == 0
  error_message = "Each account needs exactly one cloud user holding its anchor (the duplicate): ${join("; ", local.ambiguous)}. With none, Connect has not provisioned the account: there is no duplicate to resolve."
}

step "assert" "duplicates" {
  condition     = length(local.not_duplicates) == 0
  error_message = "The cloud user holding these accounts' anchors is not a duplicate from duplicate attribute resiliency (it is not synced, or no value is quarantined on it): ${join("; ", local.not_duplicates)}. Nothing to resolve for them."
}

step "assert" "one_original" {
  condition     = length(local.no_original) == 0 && length(local.many_originals) == 0
  error_message = "No other cloud user holds the values quarantined on: ${join(", ", local.no_original)} (the hourly task gives them back by itself; wait and check again). Several do: ${join("; ", local.many_originals)} (resolve those by hand)."
}

step "assert" "originals_not_synced" {
  condition     = length(local.synced_originals) == 0
  error_message = "These cloud users conflict with a duplicate but are synced themselves: ${join("; ", local.synced_originals)}. Two AD objects claim the same value; fix the values on premises, not in the cloud."
}

step "assert" "originals_hold_nothing" {
  condition     = length(local.licensed_originals) == 0
  error_message = "These cloud users hold licenses (and so, often, a mailbox and its mail), so they survive and the duplicate beside them must go: ${join("; ", local.licensed_originals)}. rebind does not remove a synced duplicate: hold the Connect scheduler (Set-ADSyncScheduler -SyncCycleEnabled $false), move the AD account out of the sync scope and run a Delta cycle (Connect deletes the duplicate), purge it from the recycle bin (DELETE /directory/deletedItems/{id}), then bind the account to the cloud user it belongs to (hard-match-takeover for a cloud-only user, restore-mistake for one in the recycle bin) and move it back."
}

step "assert" "originals_not_admins" {
  condition     = length(local.admin_originals) == 0
  error_message = "These cloud users hold directory roles and are not removed by this runbook: ${join(", ", local.admin_originals)}. Decide by hand which account the person keeps."
}

step "adsync_scheduler" "hold" {
  target  = target.adsync.connect
  enabled = false
}

step "export" "baseline" {
  path = var.baseline
  rows = concat(
    [for k, p in local.single : {
      role = "duplicate (survives)", account = p.upn, id = p.dup.id, upn = p.dup.upn, immutable_id = p.dup.immutable_id,
      proxy_addresses = join(" ", p.dup.proxy_addresses), licenses = join(" ", p.dup.licenses), deleted = p.dup.deleted,
      conflicts = join(" ", p.conflicts)
    }],
    [for k, p in local.single : {
      role = "original (removed)", account = p.upn, id = p.original.id, upn = p.original.upn, immutable_id = p.original.immutable_id,
      proxy_addresses = join(" ", p.original.proxy_addresses), licenses = join(" ", p.original.licenses), deleted = p.original.deleted,
      conflicts = ""
    }]
  )
  columns = ["role", "account", "id", "upn", "immutable_id", "proxy_addresses", "licenses", "deleted", "conflicts"]
}

step "approve" "remove_originals" {
  for_each = { originals = join("; ", [for k, p in local.single : "${p.original.upn} (${p.original.id}${p.original.deleted ? ", in the recycle bin" : ""}) gives way to ${p.dup.upn}, bound to ${p.dn}"]) }
  message  = "These cloud users hold no license, no role and no anchor, and block the duplicates bound to their AD accounts: ${each.value}. Each is deleted and purged from the recycle bin for good, so that its UPN and addresses go to the duplicate. Check in the baseline that none of them holds anything to keep, then approve."
}

step "entra_user_deleted" "original" {
  for_each        = local.remove_active
  max_concurrency = 4
  target          = target.entra.tenant
  id              = each.key
}

step "entra_user_purge" "original" {
  for_each        = local.remove
  max_concurrency = 4
  target          = target.entra.tenant
  id              = each.key
}

# Re-match: a full cycle exports each account again, now that no one else
# holds its values.
step "adsync_cycle" "initial" {
  target = target.adsync.connect
  policy = "Initial"
}

# The duplicate, bound to the account, with its UPN back and no conflict
# since the cycle; the hourly task gives quarantined values back too.
step "entra_user_state" "survivor" {
  for_each            = local.single
  max_concurrency     = 10
  target              = target.entra.tenant
  id                  = each.value.dup.id
  immutable_id        = each.value.anchor
  sync_enabled        = true
  user_principal_name = each.value.upn
  await               = "2h"
  errors_since        = step.adsync_cycle.initial.result.started

  postcondition {
    condition     = length(self.observed.user.provisioning_errors) == 0
    error_message = "${each.value.upn} is back, but Entra still reports conflicts on it: ${join("; ", [for e in self.observed.user.provisioning_errors : "${e.property} ${e.value}"])}."
  }
  postcondition {
    condition     = length(setsubtract(toset(each.value.conflicts), toset(concat([lower(self.observed.user.upn)], [for x in self.observed.user.proxy_addresses : trimprefix(lower(x), "smtp:")])))) == 0
    error_message = "${each.value.upn} did not get back every quarantined value: ${join(", ", setsubtract(toset(each.value.conflicts), toset(concat([lower(self.observed.user.upn)], [for x in self.observed.user.proxy_addresses : trimprefix(lower(x), "smtp:")]))))}."
  }
}

step "adsync_scheduler" "release" {
  target  = target.adsync.connect
  enabled = step.adsync_scheduler.hold.observed.sync_cycle_enabled
}
