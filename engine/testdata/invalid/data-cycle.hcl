runbook "t" {}

# The cycle is reported where the walk in declaration order meets it: at the
# first block of the cycle declared, here the local.
locals {
  key = data.test_read.second.value # ERROR: Reference cycle
}

data "test_read" "first" {
  key = local.key
}

data "test_read" "second" {
  key = data.test_read.first.value
}
