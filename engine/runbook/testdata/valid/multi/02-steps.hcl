step "ad_user" "anchor" {
  target          = target.ad.corp
  for_each        = { for u in var.users : u.upn => u }
  max_concurrency = 4
  max_errors      = "10%"
  await           = "1h"
  upn             = each.key
  consistency_guid = each.value.guid
}

step "assert" "done" {
  depends_on = [step.ad_user.anchor]
  condition  = length(step.ad_user.anchor) == length(var.users)
}
