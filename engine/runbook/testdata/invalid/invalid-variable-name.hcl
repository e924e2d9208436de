runbook "x" {}
variable "1st" {} # ERROR: Invalid variable name
