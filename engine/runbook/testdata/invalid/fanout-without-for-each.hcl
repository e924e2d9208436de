runbook "x" {}
step "ad_user" "anchor" {
  max_concurrency = 4 # ERROR: Fan-out setting without for_each
}
