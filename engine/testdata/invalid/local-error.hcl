runbook "t" {}

# Locals, targets and data blocks are evaluated in reference order, and
# validation stops at the first of them that fails: later ones would only
# repeat the error through their references.
locals {
  anchor = guid("not base64") # ERROR: Invalid function argument
  other  = guid("still not base64")
}
