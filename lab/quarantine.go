package lab

import (
	"strings"
	"time"
)

// quarantineSweep is how often the service looks for quarantined values
// that are free again: "A background timer task has been enabled in
// Microsoft Entra ID that runs every hour to look for duplicate attribute
// conflicts that have been resolved, and automatically removes the
// attributes in question from quarantine"
// (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency).
const quarantineSweep = time.Hour

// sweepQuarantine runs the hourly task when an hour has passed since the
// last one (the first time the clock moves after a load): each active
// cloud user's quarantined UPN or proxy address that no other cloud user
// holds any more is given back and its conflict dropped. The value given
// back is the one that was quarantined, as the service stored it.
func (t *Tenant) sweepQuarantine() {
	if !t.sync.LastSweep.IsZero() && t.now.Sub(t.sync.LastSweep) < quarantineSweep {
		return
	}
	t.sync.LastSweep = t.now
	for _, id := range t.entra.ids() {
		c := t.entra.byID[id]
		if c.Deleted() || len(c.OnPremisesProvisioningErrors) == 0 {
			continue
		}
		var kept []ProvisioningError
		upn, proxies := c.UserPrincipalName, c.ProxyAddresses
		changed := false
		for _, e := range c.OnPremisesProvisioningErrors {
			// Only a value c was kept from is given back; a conflict
			// recorded on the user that holds the value (a refused soft
			// match) stays until sync exports it again.
			switch {
			case strings.EqualFold(e.PropertyCausingError, "UserPrincipalName") && !strings.EqualFold(upn, e.Value) &&
				anyHolder(t.entra.upn[fold(e.Value)], c) == nil:
				upn, changed = e.Value, true
			case strings.EqualFold(e.PropertyCausingError, "ProxyAddresses") && !hasProxy(proxies, e.Value) &&
				anyHolder(t.entra.proxy[proxyKey(e.Value)], c) == nil:
				proxies, changed = append(append([]string(nil), proxies...), e.Value), true
			default:
				kept = append(kept, e)
			}
		}
		if !changed {
			continue
		}
		t.entra.update(c, func(c *CloudUser) {
			c.UserPrincipalName, c.ProxyAddresses, c.OnPremisesProvisioningErrors = upn, proxies, kept
		})
		t.provision(c)
	}
}

// hasProxy reports whether l holds address p (prefix and case ignored).
func hasProxy(l []string, p string) bool {
	for _, x := range l {
		if proxyKey(x) == proxyKey(p) {
			return true
		}
	}
	return false
}
