runbook "x" {
  title = ["a"] # ERROR: Invalid value for title
}
