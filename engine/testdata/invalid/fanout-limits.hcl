runbook "t" {}

variable "width" {
  type    = number
  default = 0
}

step "test_value" "none_at_a_time" {
  for_each        = toset(["a", "b"])
  max_concurrency = var.width # ERROR: Invalid max_concurrency
  key             = each.key
  value           = "1"
}

step "test_value" "fractional" {
  for_each        = toset(["a", "b"])
  max_concurrency = 2.5 # ERROR: Invalid max_concurrency
  key             = each.key
  value           = "1"
}

step "test_value" "lots" {
  for_each   = toset(["a", "b"])
  max_errors = "lots" # ERROR: Invalid max_errors
  key        = each.key
  value      = "1"
}

step "test_value" "half_a_try" {
  key   = "c"
  value = "1"
  retry {
    attempts = 2.5 # ERROR: Invalid retry attempts
  }
}

step "test_value" "never" {
  key   = "d"
  value = "1"
  await = "0s" # ERROR: Invalid await
}
