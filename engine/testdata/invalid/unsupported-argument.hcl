runbook "t" {}

step "test_value" "a" {
  key    = "a"
  value  = "1"
  colour = "blue" # ERROR: Unsupported argument
}

# A misspelt argument leaves the real one missing.
step "file" "f" { # ERROR: Missing required argument
  path     = "a.txt"
  contents = "typo" # ERROR: Unsupported argument
}
