runbook "x" {}
resource "entra_user" "u" {} # ERROR: Unsupported block type
