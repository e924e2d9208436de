package steps

import (
	"sort"
	"strings"
)

// Permission is one entry of Info.Permissions, read from its text
// "SERVICE: NAME (NOTE)": the service, what to grant, and when it applies
// or how (e.g. "driver cloudsync", "delegated only").
type Permission struct {
	// Service is "Graph", "Exchange", "Entra", "AD" or "Connect server".
	Service string `json:"service"`
	// Name is what an admin grants: a Graph permission, an Exchange role,
	// an AD right, a group.
	Name string `json:"name"`
	// Note says when the entry applies or how it is granted; "" for none.
	Note string `json:"note,omitempty"`
}

// ParsePermission reads one Info.Permissions entry.
func ParsePermission(s string) Permission {
	var p Permission
	svc, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Permission{Name: strings.TrimSpace(s)}
	}
	p.Service = strings.TrimSpace(svc)
	rest = strings.TrimSpace(rest)
	if strings.HasSuffix(rest, ")") {
		if i := strings.LastIndex(rest, " ("); i > 0 {
			p.Note = rest[i+2 : len(rest)-1]
			rest = rest[:i]
		}
	}
	p.Name = rest
	return p
}

// String is the entry as step types write it.
func (p Permission) String() string {
	s := p.Name
	if p.Service != "" {
		s = p.Service + ": " + s
	}
	if p.Note != "" {
		s += " (" + p.Note + ")"
	}
	return s
}

// DelegatedOnly reports whether a Graph permission exists only as a
// delegated permission (the note says "delegated only"): a person must
// sign in for the call, an application permission cannot be granted.
func (p Permission) DelegatedOnly() bool {
	return strings.Contains(p.Note, "delegated only")
}

// Driver is the adsync driver an entry applies to ("driver command" ->
// "command"), "" when it applies whatever the driver.
func (p Permission) Driver() string {
	if d, ok := strings.CutPrefix(p.Note, "driver "); ok {
		return d
	}
	return ""
}

// higherPrivileged prefixes a note listing the higher privileged
// permissions a call's API reference page accepts besides Name.
const higherPrivileged = "or a higher privileged one: "

// Alternatives are the higher privileged permissions the call's API
// reference page lists beside Name, from a note "or a higher privileged
// one: A, B" (e.g. retryServiceProvisioning: User.ManageIdentities.All, or
// User.EnableDisableAccount.All, User.ReadWrite.All,
// Directory.ReadWrite.All). Name stays what an admin grants; a credential
// that holds one of these instead holds enough.
func (p Permission) Alternatives() []string {
	rest, ok := strings.CutPrefix(p.Note, higherPrivileged)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range strings.Split(rest, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// GraphImplies reports whether holding Graph permission have grants what
// want needs. Microsoft Graph names permissions resource.operation.
// constraint, and ReadWrite includes Read: each API page's permissions
// table lists RESOURCE.ReadWrite.All as a higher privileged permission
// for the calls RESOURCE.Read.All allows (e.g. Get user, List users:
// https://learn.microsoft.com/graph/api/user-get#permissions).
func GraphImplies(have, want string) bool {
	if strings.EqualFold(have, want) {
		return true
	}
	res, ok := strings.CutSuffix(want, ".Read.All")
	return ok && strings.EqualFold(have, res+".ReadWrite.All")
}

// SortPermissions orders entries by service, then name.
func SortPermissions(ps []Permission) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Service != ps[j].Service {
			return ps[i].Service < ps[j].Service
		}
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		return ps[i].Note < ps[j].Note
	})
}
