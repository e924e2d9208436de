runbook "x" {}
data "ad_user" "new user" {} # ERROR: Invalid data block name
