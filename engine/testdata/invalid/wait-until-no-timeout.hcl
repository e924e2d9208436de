runbook "t" {}

step "wait" "bound" {
  until    = fileexists("done.txt") # ERROR: Missing timeout
  interval = "5s"
}

step "wait" "bounded" {
  until   = fileexists("done.txt")
  timeout = "10m"
}

step "wait" "pause" {
  duration = "1m"
}
