runbook "x" {}
data "ad/user" "new" {} # ERROR: Invalid data block type
