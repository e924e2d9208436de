# ERROR: Missing runbook block
variable "upn" {}
