runbook "x" {}
data "ad_user" "new" {
  on_failure = continue # ERROR: Invalid data block argument
}
