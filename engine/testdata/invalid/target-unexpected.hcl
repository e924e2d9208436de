runbook "t" {}

target "test_dir" "one" {
  root = "/srv/one"
}

step "test_value" "a" {
  target = target.test_dir.one # ERROR: Unexpected target
  key    = "a"
  value  = "b"
}
