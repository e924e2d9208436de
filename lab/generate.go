package lab

import (
	"fmt"
	"strings"
)

// generate expands one generator; the caller owns t. It is the path a
// 100,000-user scenario takes, so it allocates users and their index
// entries in slabs and sizes the maps once instead of growing them.
func (t *Tenant) generate(g Generator) error {
	if g.Count < 0 || strings.Count(g.Name, "%") != 1 {
		return fmt.Errorf("lab: generate %q: %w: want a count and a name with one %%d verb", g.Name, ErrInvalid)
	}
	domain := g.Domain
	if domain == "" {
		domain = "contoso.com"
	}
	container := g.Container
	if container == "" {
		container = "OU=Users," + t.cfg.DomainDN
	}
	kind := g.Kind
	if kind == "" {
		kind = "synced"
	}
	if kind != "synced" && kind != "ad" && kind != "cloud" {
		return fmt.Errorf("lab: generate %q: %w: kind %q (want synced, ad or cloud)", g.Name, ErrInvalid, g.Kind)
	}
	n := g.Count
	// Names from one pattern are distinct, so only objects that existed
	// before need checking against.
	checkAD, checkCloud := len(t.ad.byGUID) > 0, len(t.entra.byID) > 0
	t.reserve(n)
	var (
		ads   = make([]ADUser, n)
		cus   = make([]CloudUser, n)
		recs  = make([]Recipient, n)
		cslab = make([]*CloudUser, 3*n)
		rslab = make([]*Recipient, 2*n)
		lic   = []string{LicenseE3}
		now   = timePtr(t.now)
		on    = boolPtr(true)
	)
	if kind == "cloud" {
		ads = nil
	}
	if kind == "ad" {
		cus, recs, cslab, rslab = nil, nil, nil, nil
	}
	for k := 0; k < n; k++ {
		name := fmt.Sprintf(g.Name, g.Start+k)
		upn := name + "@" + domain
		proxies := []string{"SMTP:" + upn}
		dn := "CN=" + name + "," + container
		var anc string
		if ads != nil {
			t.ad.usn++
			a := &ads[k]
			*a = ADUser{ObjectGUID: t.newGUID(), DN: dn, CN: name, SAMAccountName: name, UserPrincipalName: upn,
				DisplayName: name, Mail: upn, ProxyAddresses: proxies, MailNickname: name, WhenChanged: t.now, USNChanged: t.ad.usn,
				PwdLastSet: t.now}
			if checkAD && t.ad.byDN[fold(dn)] != nil || t.ad.byUPN[fold(upn)] != nil || t.ad.bySAM[fold(name)] != nil {
				return fmt.Errorf("lab: generate %s: %w", dn, ErrExists)
			}
			t.ad.index(a)
			anc = a.Anchor()
		}
		if cus == nil {
			continue
		}
		if checkCloud && active(t.entra.upn[fold(upn)], nil) != nil {
			return fmt.Errorf("lab: generate cloud user %s: %w", upn, ErrExists)
		}
		c := &cus[k]
		*c = CloudUser{ID: t.newGUID().String(), DisplayName: name, UserPrincipalName: upn, Mail: upn, MailNickname: name,
			ProxyAddresses: proxies, AccountEnabled: true, AssignedLicenses: lic, CreatedDateTime: t.now}
		if kind == "synced" {
			c.OnPremisesImmutableID, c.OnPremisesSyncEnabled, c.OnPremisesLastSyncDateTime = anc, on, now
			c.LastPasswordChangeDateTime = now
			c.OnPremisesSamAccountName, c.OnPremisesUserPrincipalName, c.OnPremisesDistinguishedName = name, upn, dn
			c.Exchange = &ExchangeAttributes{MailNickname: name}
			t.sync.Provisioned[anc] = true
		}
		t.entra.byID[c.ID] = c
		slabIdx(t.entra.upn, fold(upn), c, cslab[3*k:])
		slabIdx(t.entra.imm, anc, c, cslab[3*k+1:])
		slabIdx(t.entra.proxy, proxyKey(proxies[0]), c, cslab[3*k+2:])
		r := &recs[k]
		*r = Recipient{ExchangeObjectID: t.newGUID().String(), ExternalDirectoryObjectID: c.ID, RecipientTypeDetails: UserMailbox,
			Alias: name, DisplayName: name, UserPrincipalName: upn, PrimarySMTPAddress: upn, EmailAddresses: proxies, ExchangeGUID: t.newGUID()}
		t.exo.byID[r.ExchangeObjectID] = r
		rslab[2*k], rslab[2*k+1] = r, r
		t.exo.byUser[c.ID] = append(t.exo.byUser[c.ID], rslab[2*k:2*k+1:2*k+1]...)
		t.exo.byGUID[r.ExchangeGUID] = append(t.exo.byGUID[r.ExchangeGUID], rslab[2*k+1:2*k+2:2*k+2]...)
	}
	t.entra.sorted = nil
	if kind == "synced" {
		t.sync.Watermark = t.ad.usn
	}
	return nil
}

// slabIdx adds u to index entry k, using slot[0] as the entry's storage
// when it is new.
func slabIdx(m map[string][]*CloudUser, k string, u *CloudUser, slot []*CloudUser) {
	if k == "" {
		return
	}
	if l, ok := m[k]; ok {
		m[k] = append(l, u)
		return
	}
	slot[0] = u
	m[k] = slot[:1:1]
}

// reserve sizes the tenant's maps for n more users.
func (t *Tenant) reserve(n int) {
	t.ad.byGUID = grow(t.ad.byGUID, n)
	t.ad.byDN = grow(t.ad.byDN, n)
	t.ad.byUPN = grow(t.ad.byUPN, n)
	t.ad.bySAM = grow(t.ad.bySAM, n)
	t.entra.byID = grow(t.entra.byID, n)
	t.entra.upn = grow(t.entra.upn, n)
	t.entra.imm = grow(t.entra.imm, n)
	t.entra.proxy = grow(t.entra.proxy, n)
	t.exo.byID = grow(t.exo.byID, n)
	t.exo.byUser = grow(t.exo.byUser, n)
	t.exo.byGUID = grow(t.exo.byGUID, n)
	t.sync.Provisioned = grow(t.sync.Provisioned, n)
}

// grow returns m with room for n more entries.
func grow[K comparable, V any](m map[K]V, n int) map[K]V {
	out := make(map[K]V, len(m)+n)
	for k, v := range m {
		out[k] = v
	}
	return out
}
