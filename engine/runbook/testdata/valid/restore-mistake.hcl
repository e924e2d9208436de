runbook "restore-mistake" {
  title                  = "Re-bind a cloud user restored by mistake to its new AD account"
  description            = "Restore the cloud user, clear its immutable ID, and let an Initial cycle soft match it."
  approvals              = 1
  irreversible_approvals = 2
}

variable "upn" {
  type        = string
  description = "The user's UPN."
  pii         = true
  validation {
    condition     = can(regex("@", var.upn))
    error_message = "The UPN must contain an @."
  }
}

variable "bind_password" {
  type      = string
  sensitive = true
  default   = null
}

variable "attempts" {
  type    = number
  default = "3"
}

locals {
  tenant_domain = "contoso.onmicrosoft.com"
}

locals {
  alias = split("@", var.upn)[0]
}

target "entra" "tenant" {}

target "ad" "corp" {
  url     = "ldaps://dc01.corp.example.com"
  base_dn = "DC=corp,DC=example,DC=com"
}

target "adsync" "connect" {
  driver = "command"
}

data "ad_user" "new" {
  target = target.ad.corp
  upn    = var.upn
  timeout = "30s"
  postcondition {
    condition     = self.observed.object_guid != ""
    error_message = "The new AD user has no objectGUID."
  }
}

step "entra_user_restored" "restore" {
  target = target.entra.tenant
  upn    = var.upn
  retry {
    attempts = var.attempts
    backoff  = "5s"
  }
  precondition {
    condition     = self.observed.deleted_days_left > 0
    error_message = "The cloud user left the 30-day recycle bin; it cannot be restored."
  }
}

step "entra_immutable_id" "clear" {
  target       = target.entra.tenant
  upn          = var.upn
  immutable_id = null
  on_failure   = abort
  depends_on   = [step.entra_user_restored.restore]
}

step "adsync_cycle" "initial" {
  target     = target.adsync.connect
  policy     = "Initial"
  on_failure = "continue"
}

step "entra_user" "bound" {
  target       = target.entra.tenant
  upn          = var.upn
  await        = "3h"
  immutable_id = immutable_id(data.ad_user.new.object_guid)
  sync_enabled = true
}
