runbook "t" {}

step "file" "f" {
  path    = ["a.txt"] # ERROR: Incorrect attribute value type
  content = "x"
}

step "exec" "e" {
  command = "pwsh -File fix.ps1" # ERROR: Incorrect attribute value type
}
