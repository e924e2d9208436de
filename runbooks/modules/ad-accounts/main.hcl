# The AD accounts a run is about, read once: named by UPN (a list, or a CSV
# file with a `upn` column) or selected by an LDAP filter, searched below
# search_base. The named UPNs become one LDAP filter,
# (|(userPrincipalName=A)(userPrincipalName=B)...). A Microsoft 365 user
# name holds only A-Z a-z 0-9 ' . - _ ! # ^ ~ and the @
# (learn.microsoft.com/office/troubleshoot/office-suite-issues/
# username-contains-special-character), none of which an LDAP filter
# escapes; a CSV is input all the same, so * ( ) \ and NUL are escaped
# (RFC 4515) and a hostile row cannot widen the search. Nothing named
# and no filter given selects no account. Which of the inputs a runbook offers, and what it
# says when one is missing, stay the caller's.

variable "upns" {
  type        = list(string)
  default     = []
  description = "The accounts' UPNs (any case; spaces around them are ignored)."
}

variable "users_csv" {
  type        = string
  default     = null
  description = "A CSV file with a upn column naming more accounts, read from the runbook's folder when relative."
}

variable "ad_filter" {
  type        = string
  default     = null
  description = "An LDAP filter selecting the accounts, used when no UPN is named."
}

variable "search_base" {
  type        = string
  default     = null
  description = "Where to search (null: the AD target's base DN)."
}

target "ad" "corp" {}

locals {
  named = concat(
    [for u in var.upns : lower(trimspace(u))],
    var.users_csv == null ? [] : [for r in csvdecode(file(var.users_csv)) : lower(trimspace(r.upn))]
  )
  # Each value escaped (ldap_escape, RFC 4515): a value that is not a
  # user name matches nothing, however it was written, and is reported
  # missing.
  filter = length(local.named) > 0 ? "(|${join("", [for u in local.named : "(userPrincipalName=${ldap_escape(u)})"])})" : coalesce(var.ad_filter, "(!(objectClass=user))")
}

data "ad_users" "accounts" {
  target      = target.ad.corp
  filter      = local.filter
  search_base = var.search_base
}

output "users" {
  value       = data.ad_users.accounts.users
  description = "The accounts found, as data.ad_users gives them."
}

output "by_upn" {
  value       = { for u in data.ad_users.accounts.users : lower(u.upn) => u }
  description = "The accounts found by UPN, lower case."
}

output "missing" {
  value       = setsubtract(toset(local.named), toset([for u in data.ad_users.accounts.users : lower(u.upn)]))
  description = "The UPNs named that no account found has."
}
