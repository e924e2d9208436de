runbook "t" {}

step "file" "f" {
  path    = null # ERROR: Null argument
  content = null
}

step "test_value" "v" {
  key   = null # ERROR: Null argument
  value = null
}
