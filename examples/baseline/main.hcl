# A core-only runbook: it needs no directory, so anyone can try rebind's
# plan -> apply -> resume -> rollback cycle on a laptop. It keeps a baseline
# of a (made-up) user list before "changing" it, the habit every real
# runbook in runbooks/ follows.

runbook "baseline" {
  title       = "Keep a baseline, then write one file per user"
  description = "Exports a user list as CSV and JSON, then writes a note per user; every step can be rolled back."
}

variable "users_csv" {
  type        = string
  default     = "users.csv"
  description = "CSV with upn and object_guid columns."
}

locals {
  users = { for r in csvdecode(file(var.users_csv)) : r.upn => r }
}

step "export" "baseline_csv" {
  path    = "out/baseline.csv"
  rows    = [for u in local.users : { upn = u.upn, object_guid = u.object_guid, immutable_id = immutable_id(u.object_guid) }]
  columns = ["upn", "object_guid", "immutable_id"]
}

step "file" "note" {
  for_each        = local.users
  max_concurrency = 4
  path            = "out/notes/${each.key}.txt"
  content         = "${each.key} is anchored by ${immutable_id(each.value.object_guid)}\n"
}

step "assert" "anchors_round_trip" {
  condition     = !contains([for u in local.users : guid(immutable_id(u.object_guid)) == lower(u.object_guid)], false)
  error_message = "An immutable ID did not decode back to its objectGUID."
}
