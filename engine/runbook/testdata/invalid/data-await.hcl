runbook "x" {}
data "entra_user" "bound" {
  await = "3h" # ERROR: Invalid data block argument
}
