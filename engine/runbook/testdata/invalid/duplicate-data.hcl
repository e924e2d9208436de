runbook "x" {}
data "ad_user" "new" {}
data "ad_user" "new" {} # ERROR: Duplicate data block "ad_user" "new"
