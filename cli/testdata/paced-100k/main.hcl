# The paced apply benchmark of the README's Measurements
# (scripts/paced-100k.sh): every cloud user of the lab's cloud-100k
# scenario (100,000 cloud-only users without an immutable ID) whose UPN
# starts with var.prefix gets an immutable ID made from its object id, so
# that every instance changes. The target is paced under the small
# tenant's Graph budget ("Identity and access service limits": 3,500
# resource units per 10 s, 3,000 writes per 150 s,
# https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits),
# which the lab enforces when served with --read-units 3500 --write-units 3000.
#
# onPremisesImmutableId can be written on a cloud-only user
# (https://learn.microsoft.com/graph/api/resources/user#properties).

runbook "paced-100k" {
  title = "Anchor every cloud user, paced under the small tier"
}

variable "prefix" {
  type        = string
  default     = "cu"
  description = "only the users whose UPN starts with this (cu0001 is 100 users, cu001 1,000, cu 100,000)"
}

target "entra" "tenant" {
  throttle_tier = "small"
}

data "entra_users" "all" {
  target = target.entra.tenant
}

step "entra_immutable_id" "anchor" {
  target       = target.entra.tenant
  for_each     = { for upn, u in data.entra_users.all.by_upn : upn => u if startswith(upn, var.prefix) }
  upn          = each.key
  immutable_id = immutable_id(each.value.id)
}
