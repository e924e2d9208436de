runbook "x" {}
variable "may_be_gone" {
  type = bool
}
data "ad_deleted_user" "original" {
  object_guid = "012114da-8d79-4015-8a5f-ddfc20df81db"
  optional    = var.may_be_gone # ERROR: Invalid optional
}
data "ad_deleted_user" "other" {
  object_guid = "012114da-8d79-4015-8a5f-ddfc20df81db"
  optional    = "yes" # ERROR: Invalid optional
}
