# Whether the tenant lets an AD account take over a cloud-managed user
# through hard match. A runbook that makes users cloud-managed (directory
# sync off) or binds cloud-only users needs it: with
# blockCloudObjectTakeoverThroughHardMatchEnabled on, each such match
# fails with InvalidHardMatch
# (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors#invalidhardmatch).
# rebind reads the switch with GET /directory/onPremisesSynchronization,
# which supports delegated Global Administrator sign-in only
# (learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get):
# with an app-only token it reads "unknown", and the admin's own reading,
# takeover_blocked, stands in for it.

variable "reading" {
  type        = string
  description = "The tenant's switch as rebind read it: data.entra_tenant.NAME.hard_match_takeover (allowed, blocked or unknown)."
}

variable "takeover_blocked" {
  type        = string
  default     = ""
  description = "The admin's reading when rebind cannot read it: \"no\" or \"yes\"."
}

variable "applies" {
  type        = bool
  default     = true
  description = "Whether the run takes anyone over at all; when false both checks pass."
}

variable "context" {
  type        = string
  default     = ""
  description = "What the run does that needs a takeover, said before the unknown reading's message."
}

variable "consequence" {
  type        = string
  description = "What the block would do to this run, and how to lift it, said after the blocked reading's message."
}

step "assert" "takeover_known" {
  condition     = !var.applies || var.reading != "unknown" || contains(["no", "yes"], var.takeover_blocked)
  error_message = "${var.context}rebind could not read whether the tenant blocks cloud object takeover through hard match: Graph refuses GET /directory/onPremisesSynchronization to this credential (it supports delegated sign-in of a Global Administrator only, never an app-only token). Have a Global Administrator check (Get-MgDirectoryOnPremiseSynchronization | Select -Expand Features | Select BlockCloudObjectTakeoverThroughHardMatchEnabled), then plan again with -var takeover_blocked=no (or yes)."
}

step "assert" "takeover_allowed" {
  condition     = !var.applies || var.reading == "allowed" || (var.reading == "unknown" && var.takeover_blocked == "no")
  error_message = "The tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled, as read by rebind or as given in takeover_blocked). ${var.consequence}"
}

output "allowed" {
  value = !var.applies || var.reading == "allowed" || (var.reading == "unknown" && var.takeover_blocked == "no")
}
