runbook "x" {}
variable "upns" {
  type = set(string)
}
data "ad_user" "new" {
  for_each = var.upns # ERROR: Invalid data block argument
  upn      = "a@contoso.com"
}
