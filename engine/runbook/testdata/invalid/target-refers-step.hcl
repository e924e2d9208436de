runbook "x" {}
step "ad_user" "created" {}
target "ad" "corp" {
  url = step.ad_user.created.result.url # ERROR: Invalid reference
}
