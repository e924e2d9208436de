runbook "x" {}

# One diagnostic at the first byte that is not UTF-8, not one per byte.
locals {
  x = "ÿþ" # ERROR: Invalid character encoding
  y = "ÿ"
}
