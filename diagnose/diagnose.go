// Package diagnose recognises, in a snapshot of a tenant, the failure
// signatures the bundled runbooks fix (the field reports of seeds 000-003,
// shared/seeds, and each runbook's README), and objects duplicate attribute
// resiliency created. For each finding it names the objects, the values that
// show it, the runbook that fixes it with its variables filled in, and what
// would make that runbook refuse. It reads nothing itself: it analyses a
// snapshot (package snapshot), taken live or read from a file.
package diagnose

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/snapshot"
)

// Finding is one recognised problem.
type Finding struct {
	// Signature names what was recognised, e.g. "seed-000-restore-mistake".
	Signature string `json:"signature"`
	Title     string `json:"title"`
	// Objects names the objects concerned (UPNs, DNs, aliases).
	Objects []string `json:"objects"`
	// Evidence are the values that show it.
	Evidence []string `json:"evidence"`
	// Runbook fixes it; "" when no bundled runbook does (Steps say what
	// to do).
	Runbook string `json:"runbook,omitempty"`
	// Vars is a ready -var-file for Runbook (JSON).
	Vars map[string]any `json:"vars,omitempty"`
	// Refusals are what would make Runbook refuse, as the snapshot shows
	// them ("refuses: ...") or cannot tell ("unknown: ...").
	Refusals []string `json:"refusals,omitempty"`
	// Steps are what to do when no runbook fixes it, or before it runs.
	Steps []string `json:"steps,omitempty"`
}

// Report is the analysis of one snapshot.
type Report struct {
	TakenAt     time.Time          `json:"takenAt"`
	Redacted    bool               `json:"redacted,omitempty"`
	Counts      Counts             `json:"counts"`
	Reads       []snapshot.Reading `json:"reads"`
	Permissions []string           `json:"permissions"`
	NotRead     []string           `json:"notRead,omitempty"`
	Findings    []Finding          `json:"findings"`
}

// Counts are the objects analysed.
type Counts struct {
	Users        int `json:"users"`
	DeletedUsers int `json:"deletedUsers"`
	Recipients   int `json:"recipients"`
	ADUsers      int `json:"adUsers"`
}

// index holds the lookups the signatures need, built once: the analysis is
// linear in the tenant's size.
type index struct {
	s *snapshot.Snapshot
	// adByAnchor maps an immutable ID to the AD object it names (live or
	// deleted).
	adByAnchor map[string]*snapshot.ADUser
	// adLive maps a lower-cased UPN or SMTP address to live AD users.
	adLive map[string][]*snapshot.ADUser
	// holders maps an immutable ID to the active cloud users holding it.
	holders map[string][]*snapshot.User
	// cloudByID maps a cloud user id (active or deleted).
	cloudByID map[string]*snapshot.User
	// activeByUPN maps a lower-cased UPN to its active cloud user.
	activeByUPN map[string]*snapshot.User
	// recipientsByUser maps ExternalDirectoryObjectId to recipients.
	recipientsByUser map[string][]*snapshot.Recipient
	// recipientsByGUID maps a lower-cased ExchangeGuid or ArchiveGuid.
	recipientsByGUID map[string][]*snapshot.Recipient
}

// AnchorOf is the immutable ID an AD user syncs with: mS-DS-ConsistencyGuid
// when set, else objectGUID, base64 of the bytes in AD order
// (https://learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-design-concepts#sourceanchor).
func AnchorOf(u *snapshot.ADUser) string {
	g := u.ConsistencyGUID
	if g == "" {
		g = u.ObjectGUID
	}
	id, err := anchor.ImmutableIDFromGUID(g)
	if err != nil {
		return ""
	}
	return id
}

func lower(s string) string { return strings.ToLower(s) }

// smtp returns the SMTP addresses of a proxyAddresses list, lower-cased.
func smtp(l []string) []string {
	var out []string
	for _, a := range l {
		if len(a) > 5 && strings.EqualFold(a[:5], "smtp:") {
			out = append(out, lower(a[5:]))
		}
	}
	return out
}

func primarySMTP(l []string) string {
	for _, a := range l {
		if strings.HasPrefix(a, "SMTP:") {
			return lower(a[5:])
		}
	}
	return ""
}

func build(s *snapshot.Snapshot) *index {
	x := &index{s: s, adByAnchor: map[string]*snapshot.ADUser{}, adLive: map[string][]*snapshot.ADUser{},
		holders: map[string][]*snapshot.User{}, cloudByID: map[string]*snapshot.User{}, activeByUPN: map[string]*snapshot.User{},
		recipientsByUser: map[string][]*snapshot.Recipient{}, recipientsByGUID: map[string][]*snapshot.Recipient{}}
	for i := range s.AD.Users {
		u := &s.AD.Users[i]
		if a := AnchorOf(u); a != "" {
			x.adByAnchor[a] = u
		}
		if u.IsDeleted {
			continue
		}
		keys := map[string]bool{}
		if u.UserPrincipalName != "" {
			keys[lower(u.UserPrincipalName)] = true
		}
		if u.Mail != "" {
			keys[lower(u.Mail)] = true
		}
		for _, a := range smtp(u.ProxyAddresses) {
			keys[a] = true
		}
		for k := range keys {
			x.adLive[k] = append(x.adLive[k], u)
		}
	}
	for i := range s.Users {
		u := &s.Users[i]
		x.cloudByID[lower(u.ID)] = u
		if u.Deleted() {
			continue
		}
		x.activeByUPN[lower(u.UserPrincipalName)] = u
		if u.OnPremisesImmutableID != "" {
			x.holders[u.OnPremisesImmutableID] = append(x.holders[u.OnPremisesImmutableID], u)
		}
	}
	for i := range s.Recipients {
		r := &s.Recipients[i]
		if r.ExternalDirectoryObjectID != "" {
			x.recipientsByUser[lower(r.ExternalDirectoryObjectID)] = append(x.recipientsByUser[lower(r.ExternalDirectoryObjectID)], r)
		}
		for _, g := range []string{r.ExchangeGUID, r.ArchiveGUID} {
			if g != "" {
				x.recipientsByGUID[lower(g)] = append(x.recipientsByGUID[lower(g)], r)
			}
		}
	}
	return x
}

// liveCounterpart returns the live AD user holding u's UPN, else its
// primary SMTP address: the account soft match would pair u with.
func (x *index) liveCounterpart(u *snapshot.User) *snapshot.ADUser {
	if l := x.adLive[lower(formerUPN(u))]; len(l) == 1 {
		return l[0]
	}
	if p := primarySMTP(u.ProxyAddresses); p != "" {
		if l := x.adLive[p]; len(l) == 1 {
			return l[0]
		}
	}
	return nil
}

// activeMailbox returns the user's active recipient, nil when none.
func (x *index) activeMailbox(u *snapshot.User) *snapshot.Recipient {
	for _, r := range x.recipientsByUser[lower(u.ID)] {
		if !r.SoftDeleted() {
			return r
		}
	}
	return nil
}

// formerUPN returns u's userPrincipalName; for a deleted user whose UPN
// starts with its object id without dashes, the UPN after that prefix. That
// Entra ID renames deleted users so is reported of real tenants but no
// Microsoft page found documents it (steps/entra's README); steps/entra
// finds deleted users under either form, and so does diagnose.
func formerUPN(u *snapshot.User) string {
	p := strings.ReplaceAll(u.ID, "-", "")
	if n := len(p); u.Deleted() && n > 0 && len(u.UserPrincipalName) > n && strings.EqualFold(u.UserPrincipalName[:n], p) &&
		strings.Contains(u.UserPrincipalName[n:], "@") {
		return u.UserPrincipalName[n:]
	}
	return u.UserPrincipalName
}

// quarantined matches a UPN duplicate attribute resiliency quarantined: the
// UPN's prefix, "+", four digits, at the tenant's initial domain
// ("...the UPN ... is changed to ... prefix + 4 random digits
// @initialdomain": how-to-connect-syncservice-duplicate-attribute-resiliency,
// https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-duplicate-attribute-resiliency).
var quarantined = regexp.MustCompile(`^(.+)\+(\d{4})@(.+)$`)

// Analyze runs every signature over s.
func Analyze(s *snapshot.Snapshot) *Report {
	x := build(s)
	rep := &Report{TakenAt: s.TakenAt, Redacted: s.Redacted, Reads: s.Reads, Permissions: s.Permissions, NotRead: s.NotRead,
		Findings: []Finding{}}
	for i := range s.Users {
		if s.Users[i].Deleted() {
			rep.Counts.DeletedUsers++
		} else {
			rep.Counts.Users++
		}
	}
	rep.Counts.Recipients, rep.Counts.ADUsers = len(s.Recipients), len(s.AD.Users)
	dar := x.darDuplicates()
	rep.Findings = append(rep.Findings, x.restoreMistakes(dar)...)
	rep.Findings = append(rep.Findings, x.orphans(dar)...)
	rep.Findings = append(rep.Findings, x.exchangeErrors()...)
	for _, d := range dar {
		rep.Findings = append(rep.Findings, d.finding)
	}
	return rep
}

// syncSwitch is a synchronisation switch a runbook must know the state of:
// a feature of Graph's onPremisesDirectorySynchronization, each a Boolean
// "<featureName>Enabled"
// (https://learn.microsoft.com/en-us/graph/api/resources/onpremisesdirectorysynchronizationfeature).
type syncSwitch struct {
	feature  string // Graph's name of it
	blocks   string // what it blocks, as a finding says it
	variable string // the runbook variable that carries "yes" or "no"
	whenOn   string // what follows when it is on
	get      func(*snapshot.DirSyncFeatures) bool
}

var (
	softMatchSwitch = syncSwitch{feature: "blockSoftMatchEnabled", blocks: "soft match", variable: "soft_match_blocked",
		whenOn: "set the immutable ID to the new account's anchor instead (rebuilt-ad-hard-match)",
		get:    func(d *snapshot.DirSyncFeatures) bool { return d.BlockSoftMatchEnabled }}
	takeoverSwitch = syncSwitch{feature: "blockCloudObjectTakeoverThroughHardMatchEnabled", blocks: "cloud object takeover through hard match", variable: "takeover_blocked",
		whenOn: "every user would fail with InvalidHardMatch once sync is back on",
		get:    func(d *snapshot.DirSyncFeatures) bool { return d.BlockCloudObjectTakeoverThroughHardMatchEnabled }}
)

// needSwitch gives f's runbook the state of sw as its variable, and
// refuses when sw is on. A snapshot without the switches (Graph serves them
// to a signed-in Global Administrator only) leaves it to a person to say.
func (x *index) needSwitch(f *Finding, sw syncSwitch) {
	if x.s.DirSync == nil {
		f.Refusals = append(f.Refusals, fmt.Sprintf("unknown: whether the tenant blocks %s (Graph serves it to a signed-in Global Administrator only); add %s = \"no\" or \"yes\" as a Global Administrator reads it, or the runbook stops to ask", sw.blocks, sw.variable))
		return
	}
	f.Vars[sw.variable] = "no"
	if sw.get(x.s.DirSync) {
		f.Vars[sw.variable] = "yes"
		f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: the tenant blocks %s (%s); %s", sw.blocks, sw.feature, sw.whenOn))
	}
}

// federated returns a refusal when upn's domain is a federated verified
// domain (the runbooks cannot change an immutable ID there).
func (x *index) federated(upn string) string {
	_, dom, _ := strings.Cut(upn, "@")
	if strings.EqualFold(x.s.Organization.DomainType(dom), "Federated") {
		return fmt.Sprintf("refuses: %s is in the federated domain %s, where its immutable ID cannot be changed; move the UPN to a managed domain first", upn, dom)
	}
	return ""
}

func appendIf(l []string, s string) []string {
	if s == "" {
		return l
	}
	return append(l, s)
}

// darDuplicate is a cloud user duplicate attribute resiliency provisioned
// beside the user holding the AD object's values.
type darDuplicate struct {
	user    *snapshot.User
	ad      *snapshot.ADUser
	finding Finding
}

// darDuplicates finds synced cloud users whose UPN was quarantined
// (prefix+NNNN@initial domain) and whose anchor is a live AD object's.
func (x *index) darDuplicates() map[string]darDuplicate {
	out := map[string]darDuplicate{}
	initial := x.s.Organization.InitialDomain()
	for i := range x.s.Users {
		u := &x.s.Users[i]
		if u.Deleted() || !u.Synced() || len(u.OnPremisesProvisioningErrors) == 0 {
			continue
		}
		m := quarantined.FindStringSubmatch(u.UserPrincipalName)
		if m == nil || (initial != "" && !strings.EqualFold(m[3], initial)) {
			continue
		}
		a := x.adByAnchor[u.OnPremisesImmutableID]
		if a == nil || a.IsDeleted {
			continue
		}
		f := Finding{Signature: "dar-duplicate", Title: "A cloud user duplicate attribute resiliency created holds an AD account's anchor",
			Objects:  []string{u.UserPrincipalName, a.DistinguishedName},
			Evidence: []string{fmt.Sprintf("%s (id %s) is synced with onPremisesImmutableId %s, the anchor of %s (userPrincipalName %s); its UPN was quarantined to %s", u.UserPrincipalName, u.ID, u.OnPremisesImmutableID, a.DistinguishedName, a.UserPrincipalName, u.UserPrincipalName)},
			Steps:    []string{"No bundled runbook removes it. Once the user it conflicts with is fixed (the finding above, if any, whose runbook refuses while this duplicate holds the anchor): pause Connect's scheduler, take the AD account out of sync scope for one cycle, delete and purge this cloud user (Remove-MgUser, then Remove-MgDirectoryDeletedItem), put the account back, and plan the runbook again."}}
		for _, e := range u.OnPremisesProvisioningErrors {
			f.Evidence = append(f.Evidence, fmt.Sprintf("onPremisesProvisioningErrors: %s %s %s", e.Category, e.PropertyCausingError, e.Value))
		}
		if other := x.activeByUPN[lower(a.UserPrincipalName)]; other != nil && other != u {
			f.Objects = append(f.Objects, other.UserPrincipalName)
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s (id %s) holds the UPN %s", other.UserPrincipalName, other.ID, a.UserPrincipalName))
		}
		out[u.OnPremisesImmutableID] = darDuplicate{user: u, ad: a, finding: f}
	}
	return out
}

// restoreMistakes recognises seed 000: a cloud user in the recycle bin, or
// restored and cloud-managed, whose immutable ID names no live AD object,
// while a new AD account holds its UPN or address.
func (x *index) restoreMistakes(dar map[string]darDuplicate) []Finding {
	var out []Finding
	for i := range x.s.Users {
		u := &x.s.Users[i]
		if u.OnPremisesImmutableID == "" || u.Synced() {
			continue
		}
		old := x.adByAnchor[u.OnPremisesImmutableID]
		if old != nil && !old.IsDeleted {
			continue
		}
		if u.Deleted() && x.activeByUPN[lower(formerUPN(u))] != nil {
			continue // another active user holds the UPN: not this signature
		}
		acct := x.liveCounterpart(u)
		if acct == nil {
			continue
		}
		state := "restored, cloud-managed (onPremisesSyncEnabled false)"
		if u.Deleted() {
			state = "in the recycle bin since " + u.DeletedDateTime.UTC().Format(time.RFC3339)
		}
		f := Finding{Signature: "seed-000-restore-mistake", Title: "A cloud user restored by mistake (or waiting in the recycle bin) and a new AD account with its UPN",
			Objects: []string{formerUPN(u), acct.DistinguishedName},
			Evidence: []string{
				fmt.Sprintf("cloud user %s (id %s) is %s, onPremisesImmutableId %s", u.UserPrincipalName, u.ID, state, u.OnPremisesImmutableID),
				fmt.Sprintf("new AD account %s (objectGUID %s, anchor %s) holds userPrincipalName %s", acct.DistinguishedName, acct.ObjectGUID, AnchorOf(acct), acct.UserPrincipalName),
			},
			Runbook: "restore-mistake", Vars: map[string]any{"upn": formerUPN(u)}}
		if old == nil {
			f.Evidence = append(f.Evidence, "the immutable ID names no AD object, live or in Deleted Objects")
		} else {
			f.Evidence = append(f.Evidence, fmt.Sprintf("the immutable ID names the deleted AD object %s", old.DistinguishedName))
			if old.UserPrincipalName != "" && !old.IsRecycled {
				f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: the original AD object %s is in the AD Recycle Bin with its attributes: restore it instead of running the runbook", old.DistinguishedName))
			}
		}
		for _, e := range u.OnPremisesProvisioningErrors {
			f.Evidence = append(f.Evidence, fmt.Sprintf("onPremisesProvisioningErrors: %s %s %s (AttributeValueMustBeUnique on the new account's export)", e.Category, e.PropertyCausingError, e.Value))
		}
		if u.Deleted() {
			left := 30*24*time.Hour - x.s.TakenAt.Sub(*u.DeletedDateTime)
			if left <= 0 {
				f.Refusals = append(f.Refusals, "refuses: the user has left the 30-day recycle bin and cannot be restored")
			} else {
				f.Evidence = append(f.Evidence, fmt.Sprintf("%.0f days left in the recycle bin", left.Hours()/24))
			}
		}
		if d, ok := dar[AnchorOf(acct)]; ok {
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s, created by duplicate attribute resiliency, holds the new account's anchor (see its finding)", d.user.UserPrincipalName))
		}
		f.Refusals = appendIf(f.Refusals, x.federated(u.UserPrincipalName))
		x.needSwitch(&f, softMatchSwitch)
		out = append(out, f)
	}
	return out
}

// orphans recognises seeds 001 and 003: synced cloud users whose anchor
// names no AD object at all. When every one of them has a live AD account
// with its UPN or address, AD was rebuilt (seed 001: rebuilt-ad-hard-match
// sets their immutable IDs to the new accounts' anchors). When some have
// none, users were off-boarded and never de-provisioned while their
// on-premises side was rebuilt (seed 003: offboard-relink re-pairs those
// with accounts and puts remote mailboxes back on premises).
func (x *index) orphans(dar map[string]darDuplicate) []Finding {
	type pair struct {
		u *snapshot.User
		a *snapshot.ADUser
	}
	var paired []pair
	var alone []*snapshot.User
	for i := range x.s.Users {
		u := &x.s.Users[i]
		if u.Deleted() || !u.Synced() || u.OnPremisesImmutableID == "" {
			continue
		}
		if x.adByAnchor[u.OnPremisesImmutableID] != nil {
			continue
		}
		if _, isDup := dar[u.OnPremisesImmutableID]; isDup {
			continue
		}
		if a := x.liveCounterpart(u); a != nil {
			paired = append(paired, pair{u, a})
		} else {
			alone = append(alone, u)
		}
	}
	if len(paired) == 0 && len(alone) == 0 {
		return nil
	}
	sort.Slice(paired, func(i, j int) bool { return paired[i].u.UserPrincipalName < paired[j].u.UserPrincipalName })
	sort.Slice(alone, func(i, j int) bool { return alone[i].UserPrincipalName < alone[j].UserPrincipalName })
	var out []Finding
	evidence := func(f *Finding, p pair) {
		f.Objects = append(f.Objects, p.u.UserPrincipalName)
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s (id %s) is synced with onPremisesImmutableId %s, which names no AD object; AD account %s (anchor %s) holds its UPN", p.u.UserPrincipalName, p.u.ID, p.u.OnPremisesImmutableID, p.a.DistinguishedName, AnchorOf(p.a)))
		for _, e := range p.u.OnPremisesProvisioningErrors {
			f.Evidence = append(f.Evidence, fmt.Sprintf("  %s onPremisesProvisioningErrors: %s %s %s", p.u.UserPrincipalName, e.Category, e.PropertyCausingError, e.Value))
		}
		f.Refusals = appendIf(f.Refusals, x.federated(p.u.UserPrincipalName))
	}
	if len(paired) > 0 && len(alone) == 0 {
		f := Finding{Signature: "seed-001-rebuilt-ad", Title: "Synced cloud users whose anchors name no AD object, while AD accounts with their UPNs exist (a rebuilt AD)",
			Runbook: "rebuilt-ad-hard-match", Vars: map[string]any{}}
		var terms []string
		for _, p := range paired {
			evidence(&f, p)
			terms = append(terms, "(userPrincipalName="+ldapEscape(p.a.UserPrincipalName)+")")
		}
		if len(terms) == 1 {
			f.Vars["ad_filter"] = terms[0]
		} else {
			f.Vars["ad_filter"] = "(|" + strings.Join(terms, "") + ")"
		}
		for _, d := range dar {
			for _, p := range paired {
				if AnchorOf(p.a) == d.user.OnPremisesImmutableID {
					f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s, created by duplicate attribute resiliency, holds the new anchor of %s (see its finding)", d.user.UserPrincipalName, p.u.UserPrincipalName))
				}
			}
		}
		x.needSwitch(&f, takeoverSwitch)
		f.Refusals = append(f.Refusals, "note: directory sync is turned off for up to 72 hours")
		out = append(out, f)
		return out
	}
	if len(paired) > 0 {
		f := Finding{Signature: "seed-003-offboard-relink", Title: "Synced cloud users without an AD object after the on-premises side was rebuilt; their mailboxes need remote mailboxes on premises",
			Runbook: "offboard-relink", Vars: map[string]any{}}
		var relink []string
		for _, p := range paired {
			evidence(&f, p)
			relink = append(relink, p.u.UserPrincipalName)
		}
		for _, u := range alone {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s is synced with an anchor that names no AD object and has no AD account (off-boarded, never de-provisioned)", u.UserPrincipalName))
		}
		// Every cloud mailbox of a user with a live AD account and no
		// remote mailbox on premises becomes a row (the runbook's input is
		// Get-Mailbox's UserPrincipalName, Alias, ExchangeGuid).
		var rows []map[string]any
		missing := 0
		for i := range x.s.Users {
			u := &x.s.Users[i]
			if u.Deleted() {
				continue
			}
			a := x.adByAnchor[u.OnPremisesImmutableID]
			if a == nil || a.IsDeleted {
				a = x.liveCounterpart(u)
				if a == nil || !contains(relink, u.UserPrincipalName) {
					continue
				}
			}
			if a.RemoteRecipientType != 0 || a.TargetAddress != "" {
				continue
			}
			r := x.activeMailbox(u)
			if r == nil || r.RecipientTypeDetails != "UserMailbox" || r.ExchangeGUID == "" {
				continue
			}
			missing++
			rows = append(rows, map[string]any{"UserPrincipalName": r.UserPrincipalName, "Alias": r.Alias, "ExchangeGuid": r.ExchangeGUID})
		}
		sort.Slice(rows, func(i, j int) bool {
			return rows[i]["UserPrincipalName"].(string) < rows[j]["UserPrincipalName"].(string)
		})
		f.Evidence = append(f.Evidence, fmt.Sprintf("%d cloud mailboxes of users with an AD account have no remote mailbox on premises (msExchRemoteRecipientType and targetAddress empty)", missing))
		f.Vars["mailboxes"] = rows
		f.Vars["relink_upns"] = relink
		if d := x.s.Organization.InitialDomain(); strings.HasSuffix(lower(d), ".onmicrosoft.com") {
			// The routing domain is tenant.mail.onmicrosoft.com
			// (https://learn.microsoft.com/exchange/hybrid-deployment-prerequisites).
			f.Vars["routing_domain"] = strings.TrimSuffix(d, ".onmicrosoft.com") + ".mail.onmicrosoft.com"
		}
		x.needSwitch(&f, takeoverSwitch)
		f.Refusals = append(f.Refusals, "note: directory sync is turned off for up to 72 hours; every synced user whose AD object is gone is left cloud-managed afterwards, not only those listed")
		out = append(out, f)
	}
	if len(alone) > 0 {
		f := Finding{Signature: "orphaned-synced-user", Title: "Synced cloud users whose anchor names no AD object and who have no AD account",
			Steps: []string{"No runbook re-pairs a user without an AD account: create the account (same UPN and primary SMTP address) and diagnose again, or leave the user cloud-managed (offboard-relink's note)."}}
		for _, u := range alone {
			f.Objects = append(f.Objects, u.UserPrincipalName)
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s (id %s) is synced with onPremisesImmutableId %s; no AD object has that anchor and none holds its UPN or address", u.UserPrincipalName, u.ID, u.OnPremisesImmutableID))
		}
		out = append(out, f)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// ldapEscape escapes a filter value (RFC 4515).
func ldapEscape(s string) string {
	r := strings.NewReplacer(`\`, `\5c`, `*`, `\2a`, `(`, `\28`, `)`, `\29`, "\x00", `\00`)
	return r.Replace(s)
}

// guidInError finds the GUIDs an Exchange error names.
var guidInError = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// exchangeErrors recognises seed 002: Exchange provisioning errors naming
// ArchiveGuid (002a: the cloud archive's GUID missing or wrong on
// premises) or a GUID another recipient holds (002b), with the on-premises
// values against the cloud's.
func (x *index) exchangeErrors() []Finding {
	var out []Finding
	for i := range x.s.Users {
		u := &x.s.Users[i]
		if u.Deleted() {
			continue
		}
		for _, e := range u.ServiceProvisioningErrors {
			if e.IsResolved {
				continue
			}
			detail := e.ErrorDetail
			inUse := strings.Contains(detail, "is used by another recipient object")
			switch {
			case inUse && (strings.Contains(detail, `"ExchangeGuid"`) || strings.Contains(detail, `"ArchiveGuid"`)):
				out = append(out, x.guidInUse(u, detail))
			case strings.Contains(detail, "ArchiveGuid"):
				out = append(out, x.archiveMismatch(u, detail))
			}
		}
	}
	return out
}

func (x *index) onPrem(u *snapshot.User) *snapshot.ADUser {
	if a := x.adByAnchor[u.OnPremisesImmutableID]; a != nil && !a.IsDeleted {
		return a
	}
	return nil
}

func (x *index) archiveMismatch(u *snapshot.User, detail string) Finding {
	f := Finding{Signature: "seed-002-archive-guid", Title: "Exchange cannot sync the archive: msExchArchiveGUID on premises is not the cloud archive's",
		Objects: []string{u.UserPrincipalName}, Evidence: []string{"serviceProvisioningErrors: " + detail},
		Runbook: "archive-guid-mismatch", Vars: map[string]any{"upn": u.UserPrincipalName}}
	a := x.onPrem(u)
	r := x.activeMailbox(u)
	if a == nil {
		f.Refusals = append(f.Refusals, "refuses: the cloud user is not anchored to a live AD account (fix the pairing first)")
	} else {
		f.Objects = append(f.Objects, a.DistinguishedName)
		f.Evidence = append(f.Evidence, fmt.Sprintf("on premises %s: msExchArchiveGUID %s, msExchMailboxGuid %s, mailNickname %s", a.DistinguishedName, orNone(a.ArchiveGUID), orNone(a.MailboxGUID), orNone(a.MailNickname)))
		if a.MailNickname == "" && r != nil {
			f.Vars["alias"] = r.Alias
			f.Evidence = append(f.Evidence, fmt.Sprintf("the AD account has no mailNickname, so its Exchange attributes do not flow; the runbook writes the Exchange alias %s", r.Alias))
		}
	}
	switch {
	case r == nil:
		f.Refusals = append(f.Refusals, "refuses: the cloud mailbox is soft-deleted or missing")
	case r.ArchiveGUID == "":
		f.Refusals = append(f.Refusals, "refuses: the cloud mailbox has no archive")
	default:
		f.Evidence = append(f.Evidence, fmt.Sprintf("in Exchange Online %s: ArchiveGuid %s, ExchangeGuid %s", r.Alias, r.ArchiveGUID, r.ExchangeGUID))
		if a != nil && a.MailboxGUID != "" && !strings.EqualFold(a.MailboxGUID, r.ExchangeGUID) {
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: msExchMailboxGuid on premises (%s) names another mailbox than the cloud one (%s)", a.MailboxGUID, r.ExchangeGUID))
		}
	}
	return f
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

func (x *index) guidInUse(u *snapshot.User, detail string) Finding {
	prop := "ExchangeGuid"
	if strings.Contains(detail, `"ArchiveGuid"`) {
		prop = "ArchiveGuid"
	}
	f := Finding{Signature: "seed-002-guid-in-use", Title: "Exchange cannot provision the mailbox: its " + prop + " is held by another recipient",
		Objects: []string{u.UserPrincipalName}, Evidence: []string{"serviceProvisioningErrors: " + detail},
		Runbook: "exchange-guid-in-use", Vars: map[string]any{"upn": u.UserPrincipalName, "property": prop}}
	var guid string
	if a := x.onPrem(u); a != nil {
		f.Objects = append(f.Objects, a.DistinguishedName)
		guid = a.MailboxGUID
		attr := "msExchMailboxGuid"
		if prop == "ArchiveGuid" {
			guid, attr = a.ArchiveGUID, "msExchArchiveGUID"
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("on premises %s: %s %s", a.DistinguishedName, attr, orNone(guid)))
	} else if m := guidInError.FindString(detail); m != "" {
		guid = m
	}
	var holders []*snapshot.Recipient
	for _, r := range x.recipientsByGUID[lower(guid)] {
		if strings.EqualFold(r.ExternalDirectoryObjectID, u.ID) {
			continue
		}
		holders = append(holders, r)
	}
	switch len(holders) {
	case 0:
		f.Refusals = append(f.Refusals, "refuses: no recipient in the snapshot holds "+orNone(guid))
	case 1:
	default:
		f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %d recipients hold %s", len(holders), guid))
	}
	for _, h := range holders {
		state := "active"
		if h.SoftDeleted() {
			state = "soft-deleted since " + h.WhenSoftDeleted.UTC().Format(time.RFC3339)
		}
		f.Objects = append(f.Objects, h.Alias)
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s (%s, ExchangeObjectId %s) is %s and holds %s", h.RecipientTypeDetails, h.Alias, h.UserPrincipalName, h.ExchangeObjectID, state, guid))
		if !h.SoftDeleted() {
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s is an active recipient (another live user); decide about it by hand", h.Alias))
			continue
		}
		if h.LitigationHoldEnabled {
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s is on litigation hold: the runbook releases it, and the 30-day delay hold that follows, behind an approve gate", h.Alias))
		}
		for _, hold := range h.InPlaceHolds {
			if strings.HasPrefix(hold, "-") {
				continue // an exclusion, no hold
			}
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s is kept by the hold %s, which rebind does not remove (Microsoft's \"Delete an inactive mailbox\" names the cmdlet)", h.Alias, hold))
		}
		if h.ComplianceTagHoldApplied {
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s is kept by a retention label (ComplianceTagHoldApplied)", h.Alias))
		}
		if owner := x.cloudByID[lower(h.ExternalDirectoryObjectID)]; owner != nil && owner.Deleted() {
			f.Refusals = append(f.Refusals, fmt.Sprintf("refuses: %s's own user %s is still in the Entra ID recycle bin; purge it first", h.Alias, owner.UserPrincipalName))
		}
		f.Refusals = append(f.Refusals, "note: the purge removes the soft-deleted recipient's mail for good; export it first if it must be kept")
	}
	return f
}
