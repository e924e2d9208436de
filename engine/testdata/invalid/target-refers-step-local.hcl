runbook "t" {}

step "test_value" "a" {
  key   = "a"
  value = "1"
}

locals {
  root = step.test_value.a.result.written
}

target "test_dir" "one" { # ERROR: Reference to a step before steps run
  root = local.root
}
