runbook "relink" {
  title = "Re-link cloud mailboxes to on-premises users"
}

variable "users" {
  type = list(object({ upn = string, guid = string }))
  default = []
}

target "ad" "corp" {
  url = "ldaps://dc01.corp.example.com"
}
