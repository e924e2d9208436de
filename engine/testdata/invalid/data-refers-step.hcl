runbook "t" {}

step "test_value" "a" {
  key   = "a"
  value = "1"
}

locals {
  written = step.test_value.a.result.written
}

data "test_read" "direct" { # ERROR: Reference to a step before steps run
  key = step.test_value.a.result.written
}

data "test_read" "through_local" { # ERROR: Reference to a step before steps run
  key = local.written
}

data "test_read" "depends" { # ERROR: Reference to a step before steps run
  key        = "x"
  depends_on = [step.test_value.a]
}
