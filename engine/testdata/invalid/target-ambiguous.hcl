runbook "t" {}

target "test_dir" "one" {
  root = "/srv/one"
}

target "test_dir" "two" {
  root = "/srv/two"
}

# With one target of the type it would be used implicitly; with two the
# step must say which.
step "test_targeted" "which" { # ERROR: Missing target
  key = "a"
}

step "test_targeted" "this" {
  target = target.test_dir.two
  key    = "a"
}
