runbook "t" {}

step "test_value" "timeout" {
  key     = "a"
  value   = "1"
  timeout = "soon" # ERROR: Invalid timeout
}

step "test_value" "backoff" {
  key   = "b"
  value = "1"
  retry {
    attempts = 3
    backoff  = "5 parsecs" # ERROR: Invalid retry.backoff
  }
}
