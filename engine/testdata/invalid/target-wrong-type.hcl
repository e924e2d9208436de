runbook "t" {}

target "test_dir" "one" {
  root = "/srv/one"
}

target "other_dir" "two" { # ERROR: Unknown target type
  root = "/srv/two"
}

step "test_targeted" "a" {
  target = target.other_dir.two # ERROR: Wrong target type
  key    = "a"
}
