runbook "t" {}

target "test_dir" "one" {
  root = null # ERROR: Null argument
}
