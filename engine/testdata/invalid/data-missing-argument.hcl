runbook "t" {}

data "test_read" "r" { # ERROR: Missing required argument
}
