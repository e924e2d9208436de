runbook "x" {}

# Finite, but with a hundred million digits to print.
locals {
  n = 1e99999999 # ERROR: Number out of range
}
