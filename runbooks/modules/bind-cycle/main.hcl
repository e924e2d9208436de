# Run Connect's Initial cycle (full import, full sync and export:
# Start-ADSyncSyncCycle -PolicyType Initial,
# learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler)
# and wait until each user is synced again and holds the anchor it was
# given; a sync conflict reported since the cycle started ends the wait
# with its text. Then check each user against what the caller's baseline
# kept: the same cloud user, no license and no cloud alias lost. Holding
# and releasing Connect's scheduler around the run, and what is written
# before the cycle, are the caller's.

variable "users" {
  description = "KEY => { upn, immutable_id, cloud_id, licenses, aliases }: the UPN the user is synced with, the anchor it must end up holding, the cloud user's id (null: not compared), the skuIds and the proxy addresses it must keep ([]: none compared). Keyed as the caller's fan-outs are."
}

variable "max_errors" {
  type        = string
  default     = "0"
  description = "How many users (a count or a percentage) may fail to bind before the run stops."
}

variable "synced_since_cycle" {
  type        = bool
  default     = false
  description = "Also wait until each user's last sync (onPremisesLastSyncDateTime) is at or after the cycle's start: exported to by this cycle, not by an earlier one."
}

target "entra" "tenant" {}
target "adsync" "connect" {}

step "adsync_cycle" "initial" {
  target = target.adsync.connect
  policy = "Initial"
}

step "entra_user_state" "bound" {
  for_each        = var.users
  max_concurrency = 10
  max_errors      = var.max_errors
  target          = target.entra.tenant
  upn             = each.value.upn
  immutable_id    = each.value.immutable_id
  sync_enabled    = true
  await           = "3h"
  errors_since    = step.adsync_cycle.initial.result.started
  synced_since    = var.synced_since_cycle ? step.adsync_cycle.initial.result.started : null

  postcondition {
    condition     = each.value.cloud_id == null || self.observed.user.id == each.value.cloud_id
    error_message = "${each.value.upn} is cloud user ${self.observed.user.id}, not ${each.value.cloud_id}: the AD account did not bind to the cloud user it was meant for."
  }
  # An assignment removed meanwhile is put back with POST
  # /users/{id}/assignLicense (learn.microsoft.com/graph/api/user-assignlicense).
  postcondition {
    condition     = length(setsubtract(toset(each.value.licenses), toset(self.observed.user.licenses))) == 0
    error_message = "${each.value.upn} is bound but lost licenses it had before (skuId ${join(", ", setsubtract(toset(each.value.licenses), toset(self.observed.user.licenses)))}; the baseline lists them). Assign them again (POST /users/{id}/assignLicense)."
  }
  # Sync writes the AD account's proxyAddresses over the cloud's, so an
  # alias added only in the cloud is gone once the user is bound.
  postcondition {
    condition     = length(setsubtract(toset([for p in each.value.aliases : lower(p)]), toset([for p in self.observed.user.proxy_addresses : lower(p)]))) == 0
    error_message = "${each.value.upn} is bound but lost aliases it had in the cloud: ${join(", ", setsubtract(toset([for p in each.value.aliases : lower(p)]), toset([for p in self.observed.user.proxy_addresses : lower(p)])))} (the baseline lists them). Sync writes the AD account's proxyAddresses: add them there and run a Delta cycle."
  }
}
