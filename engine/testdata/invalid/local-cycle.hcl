runbook "t" {}

locals {
  a = local.b # ERROR: Reference cycle
  b = "${local.c}-b"
  c = upper(local.a)
}

step "test_value" "x" {
  key   = "x"
  value = local.a
}
