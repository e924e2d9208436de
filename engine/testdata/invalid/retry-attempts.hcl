runbook "t" {}

step "test_value" "zero" {
  key   = "a"
  value = "1"
  retry {
    attempts = 0 # ERROR: Invalid retry attempts
  }
}

step "test_value" "many" {
  key   = "b"
  value = "1"
  retry {
    attempts = 1000 # ERROR: Invalid retry attempts
  }
}

step "test_value" "words" {
  key   = "c"
  value = "1"
  retry {
    attempts = "three" # ERROR: Invalid retry attempts
  }
}
