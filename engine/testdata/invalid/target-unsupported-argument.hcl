runbook "t" {}

target "test_dir" "one" {
  root = "/srv"
  url  = "ldaps://dc01" # ERROR: Unsupported argument
}
