runbook "x" {}
locals {
  domain = "contoso.com"
}
locals {
  domain = "fabrikam.com" # ERROR: Duplicate local "domain"
}
