runbook "t" {}

locals {
  guid = "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"
}

step "test_value" "anchor" {
  key   = "anchor"
  value = immutable_id("not-a-guid") # ERROR: Invalid function argument
}

step "test_value" "rows" {
  key   = "rows"
  value = length(csvdecode(file("missing.csv"))) # ERROR: Invalid function argument
}

step "test_value" "sum" {
  key   = "sum"
  value = 1 + "one" # ERROR: Invalid operand
}

step "test_value" "unknown" {
  key   = "unknown"
  value = nosuch(local.guid) # ERROR: Call to unknown function
}
