# A tenant-wide fan-out for measuring plans at scale (README, Measurements):
# every AD user's anchor on its cloud user, which in the lab's healthy-100k
# scenario is already so for all 100,000 users. BenchmarkShow100k renders a
# plan of this runbook; planned against the lab it is the 100,000-user plan
# of issue 14:
#
#   rebind lab serve --scenario healthy-100k --ca-file lab-ca.pem   (prints URL)
#   REBIND_LAB_CA=lab-ca.pem rebind plan cli/testdata/fanout-100k/main.hcl --lab URL -out 100k.plan
#   rebind show 100k.plan
#
# The immutable ID is the sourceAnchor Entra Connect matches on, the base64
# of the objectGUID's bytes in AD's order
# (https://learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-design-concepts#sourceanchor),
# held by the user's onPremisesImmutableId
# (https://learn.microsoft.com/graph/api/resources/user#properties); ad_users
# gives it as immutable_id.

runbook "fanout-100k" {
  title = "Stamp every AD user's objectGUID as its cloud user's immutable ID"
}

target "ad" "corp" {}
target "entra" "tenant" {}

data "ad_users" "all" {
  target = target.ad.corp
  filter = "(userPrincipalName=*)"
}

step "entra_immutable_id" "anchor" {
  target       = target.entra.tenant
  for_each     = { for u in data.ad_users.all.users : u.upn => u }
  upn          = each.key
  immutable_id = each.value.immutable_id
}
