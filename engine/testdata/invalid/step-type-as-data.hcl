runbook "t" {}

data "test_value" "x" { # ERROR: Not a data type
  key   = "a"
  value = "b"
}

data "exec" "y" { # ERROR: Not a data type
  command = ["true"]
}
