# Two checks, made at plan, before cloud users are re-anchored to AD
# accounts (their immutable IDs cleared for soft match, or set to the
# accounts' anchors for hard match):
#
# - The anchor a cloud user holds now names no live AD object. The anchor
#   is base64 of the account's objectGUID (or mS-DS-ConsistencyGuid)
#   (learn.microsoft.com/entra/identity/hybrid/connect/
#   plan-connect-design-concepts), so it is searched by objectGUID: an
#   account found still has it, was not re-created, and re-anchoring its
#   cloud user would cut it off.
# - No other cloud user holds an anchor the users are to be bound to:
#   duplicate attribute resiliency provisions a re-created account whose
#   soft match is refused as a second cloud user, which keeps the anchor
#   (learn.microsoft.com/entra/identity/hybrid/connect/
#   how-to-connect-syncservice-duplicate-attribute-resiliency), and an
#   immutable ID is unique.
#
# Each message names what was found, then says the caller's own words.

variable "users" {
  description = "KEY => { cloud_id, old_anchor, new_anchor }: the cloud user's id (\"\" when there is none), the immutable ID it holds now (null: none) and the anchor of the AD account it is to be bound to (null: unknown; the user is then not checked)."
}

variable "cloud_users" {
  description = "The cloud users among which another holder of a new anchor is looked for: data.entra_users.NAME.users, with those in the recycle bin where they count."
}

variable "old_consequence" {
  type        = string
  description = "What a live AD account holding a cloud user's anchor means for this run, and what to do, said after the accounts found."
}

variable "duplicates_consequence" {
  type        = string
  description = "What another cloud user holding a new anchor means for this run, and how to remove it, said after the users found."
}

target "ad" "corp" {}

locals {
  # The anchors the cloud users hold now that are not already the ones
  # they are to be bound to.
  old_anchors = distinct([for k, u in var.users : u.old_anchor if u.old_anchor != null && u.new_anchor != null && u.old_anchor != u.new_anchor])
  # New anchor => the cloud user that must end up holding it.
  anchor_owner = { for k, u in var.users : u.new_anchor => u.cloud_id if u.new_anchor != null }
  duplicates   = [for c in var.cloud_users : c if c.immutable_id != null && try(local.anchor_owner[c.immutable_id] != c.id, false)]
}

data "ad_users" "old" {
  target = target.ad.corp
  filter = length(local.old_anchors) == 0 ? "(!(objectClass=user))" : "(|${join("", [for a in local.old_anchors : "(objectGUID=${ldap_guid_filter(guid(a))})"])})"
}

step "assert" "old_accounts_gone" {
  condition     = length(data.ad_users.old.users) == 0
  error_message = "These AD accounts still hold the anchor their cloud users hold now: ${join(", ", [for u in data.ad_users.old.users : u.upn == null ? u.dn : u.upn])}. ${var.old_consequence}"
}

step "assert" "no_duplicates" {
  condition     = length(local.duplicates) == 0
  error_message = "These cloud users already hold the anchor of a re-created account: ${join(", ", [for c in local.duplicates : "${c.upn} (${c.id}${c.deleted ? ", in the recycle bin" : ""}) holds ${c.immutable_id}"])}. ${var.duplicates_consequence}"
}
