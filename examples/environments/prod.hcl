# A sample production environment: where the bundled runbooks' targets are.
# Copy it into your own repository, put your hosts and tenant in, and give
# it to every command: `rebind --env prod.hcl plan RUNBOOK ...` (or set
# REBIND_ENV=prod.hcl). `rebind doctor --env prod.hcl RUNBOOK` checks it
# against the real directories before you plan; docs/setup.md says how to
# register the app and grant what the runbooks need.
#
# Settings only, never credentials: this file is checked in and recorded in
# every plan (a plan made with it refuses to run against other settings).
# Credentials come from the process environment:
#   Graph and Exchange: azidentity's variables (AZURE_TENANT_ID,
#     AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH, ...), see docs/setup.md
#   AD: REBIND_AD_BIND_DN and REBIND_AD_PASSWORD (names set by bind_dn_env
#     and password_env)

target "entra" "tenant" {
  tenant_id = "contoso.onmicrosoft.com"
  # throttle_tier = "large"   # Graph's quota for a tenant of more than 500 users; small (under 50) by default
}

target "exo" "tenant" {
  organization = "contoso.onmicrosoft.com"
  tenant_id    = "contoso.onmicrosoft.com"
}

target "ad" "corp" {
  url     = "ldaps://dc01.corp.example.com"
  base_dn = "DC=corp,DC=example,DC=com"
  # ca_file = "corp-root-ca.pem"   # when the DC's CA is not in the system store
}

target "adsync" "connect" {
  driver = "command"
  # Connect's ADSync cmdlets on the Entra Connect server over OpenSSH, as an
  # argument list (never a shell line), each command Base64-encoded as
  # -EncodedCommand takes it: rebind checks the scheduler and staging mode,
  # starts the cycle (Start-ADSyncSyncCycle), waits until it has ended and
  # reads each run profile's result (Get-ADSyncRunProfileResult), a
  # deletion-threshold stop included. The SSH account must be in the
  # server's ADSyncAdmins group.
  shell = ["ssh", "connect01.corp.example.com", "powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand"]
}
