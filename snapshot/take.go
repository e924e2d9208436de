package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/anchor"
)

// Graph lists a Graph collection page by page (steps/entra's Client).
type Graph interface {
	// ReadPages reads path (relative to /v1.0) and every page its
	// @odata.nextLink names, calling each with the page's objects and the
	// answer's Date; it returns the requests it made.
	ReadPages(ctx context.Context, path string, each func(values []json.RawMessage, date time.Time) error) (int, error)
}

// Exchange runs an Exchange cmdlet through the admin API (steps/exo's
// Client), following the answer's pages.
type Exchange interface {
	Invoke(ctx context.Context, cmdlet string, params map[string]any) ([]json.RawMessage, error)
}

// Directory is an LDAP connection to the domain (steps/ad's Client). The
// snapshot pages itself, on the one connection, so that each page is
// decoded and dropped before the next is read.
type Directory interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	BaseDN() string
}

// Sources are the open connections a snapshot reads through; a nil one is
// not read (and NotRead says so).
type Sources struct {
	Graph    Graph
	Exchange Exchange
	// ExchangeRequests, when set, returns how many HTTP requests the
	// Exchange connection has sent so far (the admin API pages at 1,000).
	ExchangeRequests func() int
	AD               Directory
	// IsForbidden tells a 403 from Graph (the synchronisation switches are
	// served to a signed-in Global Administrator only).
	IsForbidden func(error) bool
}

// ldapPageSize is AD's default MaxPageSize (LDAP policies:
// https://learn.microsoft.com/troubleshoot/windows-server/active-directory/view-set-ldap-policy-using-ntdsutil).
const ldapPageSize = 1000

// graphPageSize is the largest page GET /users returns: "$top ... 1 to 999"
// (https://learn.microsoft.com/graph/api/user-list, and
// https://learn.microsoft.com/graph/paging for following @odata.nextLink).
const graphPageSize = 999

// userSelect are the user properties a snapshot keeps. Graph returns the
// on-premises and provisioning-error properties only when selected
// (https://learn.microsoft.com/graph/api/resources/user, "Returned only on
// $select").
var userSelect = []string{"id", "displayName", "userPrincipalName", "mail", "mailNickname", "proxyAddresses",
	"accountEnabled", "onPremisesImmutableId", "onPremisesSyncEnabled", "onPremisesLastSyncDateTime",
	"onPremisesDistinguishedName", "onPremisesSamAccountName", "onPremisesUserPrincipalName", "assignedLicenses",
	"lastPasswordChangeDateTime", "onPremisesProvisioningErrors", "serviceProvisioningErrors", "createdDateTime",
	"deletedDateTime"}

// adAttributes are the LDAP attributes a snapshot keeps.
var adAttributes = []string{"objectGUID", "distinguishedName", "cn", "sAMAccountName", "userPrincipalName",
	"displayName", "mail", "proxyAddresses", "mS-DS-ConsistencyGuid", "mailNickname", "msExchMailboxGuid",
	"msExchArchiveGUID", "targetAddress", "msExchRecipientTypeDetails", "msExchRemoteRecipientType",
	"msExchRecipientDisplayType", "isDeleted", "isRecycled", "lastKnownParent", "whenChanged", "uSNChanged",
	"pwdLastSet", "userAccountControl"}

// Permissions are what the reads need, for `rebind snapshot` and
// `rebind diagnose` to list.
var Permissions = []string{
	"Graph User.Read.All (GET /users, GET /directory/deletedItems/microsoft.graph.user: user-list, directory-deleteditems-list)",
	"Graph Organization.Read.All (GET /organization: organization-list)",
	"Graph OnPremDirectorySynchronization.Read.All, delegated, Global Administrator (GET /directory/onPremisesSynchronization: onpremisesdirectorysynchronization-get; app-only is refused and the switches are left unknown)",
	"Exchange.ManageAsApp with the View-Only Recipients role (Get-Mailbox, Get-MailUser)",
	"AD read of users, and List Contents on CN=Deleted Objects (LDAP_SERVER_SHOW_DELETED_OID)",
}

// Take reads the tenant through src. A failed read of the synchronisation
// switches (403 to app-only tokens) is recorded and the snapshot goes on;
// any other failure is returned.
func Take(ctx context.Context, src Sources) (*Snapshot, error) {
	s := &Snapshot{Format: Format, Permissions: Permissions, Users: []User{}, Recipients: []Recipient{}}
	if src.Graph == nil {
		s.NotRead = append(s.NotRead, "Entra ID: no Graph connection")
	} else if err := readGraph(ctx, src, s); err != nil {
		return nil, err
	}
	if src.Exchange == nil {
		s.NotRead = append(s.NotRead, "Exchange Online: no Exchange connection")
	} else if err := readExchange(ctx, src, s); err != nil {
		return nil, err
	}
	if src.AD == nil {
		s.NotRead = append(s.NotRead, "AD: no LDAP connection")
	} else if err := readAD(src.AD, s); err != nil {
		return nil, err
	}
	if s.TakenAt.IsZero() {
		s.TakenAt = time.Now().UTC()
	}
	s.NotRead = append(s.NotRead,
		"Entra ID directory roles (soft match skips admins): not read",
		"Entra Connect's connector space and run history (which anchors this server exported, the last cycle's errors): not read; a lab loaded from the snapshot takes every synced user whose AD object is in the snapshot as exported by its Connect server",
		"Connect's settings (sync scope, deletion threshold, scheduler interval): not read; a lab takes Connect's defaults",
		"when a mailbox's delay hold lapses: not shown by Get-Mailbox",
		"duplicate attribute resiliency: on in every tenant since 2016, assumed on")
	return s, nil
}

func readGraph(ctx context.Context, src Sources, s *Snapshot) error {
	// GET /organization (https://learn.microsoft.com/graph/api/organization-list).
	var orgs []Organization
	t0 := time.Now()
	n, err := src.Graph.ReadPages(ctx, "/organization", func(vs []json.RawMessage, date time.Time) error {
		if s.TakenAt.IsZero() {
			s.TakenAt = date.UTC()
		}
		for _, v := range vs {
			var o Organization
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("snapshot: organization: %w", err)
			}
			orgs = append(orgs, o)
		}
		return nil
	})
	s.Reads = append(s.Reads, Reading{API: "Graph", What: "GET /organization", Requests: n, Objects: len(orgs), Took: since(t0)})
	if err != nil {
		return err
	}
	if len(orgs) != 1 {
		return fmt.Errorf("snapshot: GET /organization returned %d organizations, want 1", len(orgs))
	}
	s.Organization = orgs[0]

	// GET /directory/onPremisesSynchronization
	// (https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get):
	// delegated Global Administrator only.
	var feats []DirSyncFeatures
	t0 = time.Now()
	n, err = src.Graph.ReadPages(ctx, "/directory/onPremisesSynchronization", func(vs []json.RawMessage, _ time.Time) error {
		for _, v := range vs {
			var d struct {
				Features DirSyncFeatures `json:"features"`
			}
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("snapshot: onPremisesSynchronization: %w", err)
			}
			feats = append(feats, d.Features)
		}
		return nil
	})
	rd := Reading{API: "Graph", What: "GET /directory/onPremisesSynchronization", Requests: n, Objects: len(feats), Took: since(t0)}
	switch {
	case err != nil && src.IsForbidden != nil && src.IsForbidden(err):
		rd.Error = err.Error()
		s.NotRead = append(s.NotRead, "the tenant's soft match and hard match takeover switches: Graph serves them to a signed-in Global Administrator only (403 to this token); give the runbooks a Global Administrator's reading")
	case err != nil:
		return err
	case len(feats) > 0:
		s.DirSync = &feats[0]
	}
	s.Reads = append(s.Reads, rd)

	sel := url.Values{"$select": {strings.Join(userSelect, ",")}, "$top": {strconv.Itoa(graphPageSize)}}
	for _, l := range []struct{ path, what string }{
		{"/users", "GET /users"},
		// https://learn.microsoft.com/graph/api/directory-deleteditems-list
		{"/directory/deletedItems/microsoft.graph.user", "GET /directory/deletedItems/microsoft.graph.user"},
	} {
		before, t0 := len(s.Users), time.Now()
		n, err := src.Graph.ReadPages(ctx, l.path+"?"+sel.Encode(), func(vs []json.RawMessage, _ time.Time) error {
			for _, v := range vs {
				u, err := decodeUser(v)
				if err != nil {
					return fmt.Errorf("snapshot: %s: %w", l.what, err)
				}
				s.Users = append(s.Users, u)
			}
			return nil
		})
		s.Reads = append(s.Reads, Reading{API: "Graph", What: l.what, Requests: n, Objects: len(s.Users) - before, Took: since(t0)})
		if err != nil {
			return err
		}
	}
	return nil
}

// graphUser is a user as Graph sends it.
type graphUser struct {
	User
	AssignedLicenses []struct {
		SkuID string `json:"skuId"`
	} `json:"assignedLicenses"`
	ServiceProvisioningErrors []ServiceError `json:"serviceProvisioningErrors"`
	ODataType                 string         `json:"@odata.type"`
}

func decodeUser(v json.RawMessage) (User, error) {
	var g graphUser
	if err := json.Unmarshal(v, &g); err != nil {
		return User{}, err
	}
	u := g.User
	u.AssignedLicenses = nil
	for _, l := range g.AssignedLicenses {
		u.AssignedLicenses = append(u.AssignedLicenses, l.SkuID)
	}
	u.ServiceProvisioningErrors = g.ServiceProvisioningErrors
	if len(u.ProxyAddresses) == 0 {
		u.ProxyAddresses = nil
	}
	if len(u.OnPremisesProvisioningErrors) == 0 {
		u.OnPremisesProvisioningErrors = nil
	}
	if len(u.ServiceProvisioningErrors) == 0 {
		u.ServiceProvisioningErrors = nil
	}
	if u.ID == "" {
		return u, errors.New("a user without an id")
	}
	return u, nil
}

// exoRecipient is a recipient as the admin API answers it.
type exoRecipient struct {
	Recipient
	ExchangeGUID    string  `json:"ExchangeGuid"`
	ArchiveGUID     string  `json:"ArchiveGuid"`
	WhenSoftDeleted *string `json:"WhenSoftDeleted"`
}

func readExchange(ctx context.Context, src Sources, s *Snapshot) error {
	// Get-Mailbox -IncludeInactiveMailbox and -SoftDeletedMailbox
	// (https://learn.microsoft.com/powershell/module/exchange/get-mailbox),
	// Get-MailUser and -SoftDeletedMailUser
	// (https://learn.microsoft.com/powershell/module/exchange/get-mailuser):
	// the active, inactive and soft-deleted mailboxes and mail users, with
	// the hold properties Get-Mailbox shows.
	calls := []struct {
		cmdlet string
		params map[string]any
	}{
		{"Get-Mailbox", map[string]any{"ResultSize": "Unlimited", "IncludeInactiveMailbox": true}},
		{"Get-Mailbox", map[string]any{"ResultSize": "Unlimited", "SoftDeletedMailbox": true}},
		{"Get-MailUser", map[string]any{"ResultSize": "Unlimited"}},
		{"Get-MailUser", map[string]any{"ResultSize": "Unlimited", "SoftDeletedMailUser": true}},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		before := 0
		if src.ExchangeRequests != nil {
			before = src.ExchangeRequests()
		}
		t0 := time.Now()
		out, err := src.Exchange.Invoke(ctx, c.cmdlet, c.params)
		rd := Reading{API: "Exchange", What: strings.TrimSpace(c.cmdlet + " " + switches(c.params)), Objects: len(out), Took: since(t0)}
		if src.ExchangeRequests != nil {
			rd.Requests = src.ExchangeRequests() - before
		}
		s.Reads = append(s.Reads, rd)
		if err != nil {
			return fmt.Errorf("snapshot: %s: %w", rd.What, err)
		}
		for i, v := range out {
			var x exoRecipient
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("snapshot: %s: object %d: %w", rd.What, i, err)
			}
			r := x.Recipient
			if r.ExchangeGUID, err = guidOrEmpty(x.ExchangeGUID); err != nil {
				return fmt.Errorf("snapshot: %s: %s: ExchangeGuid: %w", rd.What, r.Alias, err)
			}
			if r.ArchiveGUID, err = guidOrEmpty(x.ArchiveGUID); err != nil {
				return fmt.Errorf("snapshot: %s: %s: ArchiveGuid: %w", rd.What, r.Alias, err)
			}
			if x.WhenSoftDeleted != nil && *x.WhenSoftDeleted != "" {
				t, err := time.Parse(time.RFC3339, *x.WhenSoftDeleted)
				if err != nil {
					return fmt.Errorf("snapshot: %s: %s: WhenSoftDeleted %q: %w", rd.What, r.Alias, *x.WhenSoftDeleted, err)
				}
				t = t.UTC()
				r.WhenSoftDeleted = &t
			}
			if len(r.EmailAddresses) == 0 {
				r.EmailAddresses = nil
			}
			if len(r.InPlaceHolds) == 0 {
				r.InPlaceHolds = nil
			}
			key := strings.ToLower(r.ExchangeObjectID)
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			s.Recipients = append(s.Recipients, r)
		}
	}
	return nil
}

func switches(p map[string]any) string {
	var out []string
	for _, k := range []string{"IncludeInactiveMailbox", "SoftDeletedMailbox", "SoftDeletedMailUser"} {
		if _, ok := p[k]; ok {
			out = append(out, "-"+k)
		}
	}
	return strings.Join(out, " ")
}

// guidOrEmpty returns a GUID's canonical text, "" for the all-zero GUID
// Exchange shows for an unset one.
func guidOrEmpty(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	g, err := anchor.ParseGUID(s)
	if err != nil {
		return "", err
	}
	if g.IsZero() {
		return "", nil
	}
	return g.String(), nil
}

func readAD(d Directory, s *Snapshot) error {
	s.AD.DomainDN = d.BaseDN()
	// Users, live and in Deleted Objects: the Show Deleted control
	// (LDAP_SERVER_SHOW_DELETED_OID, 1.2.840.113556.1.4.417,
	// https://learn.microsoft.com/openspecs/windows_protocols/ms-adts/)
	// in pages (RFC 2696).
	paging := ldap.NewControlPaging(ldapPageSize)
	req := ldap.NewSearchRequest(s.AD.DomainDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(!(objectClass=computer)))", adAttributes, []ldap.Control{ldap.NewControlMicrosoftShowDeleted(), paging})
	rd := Reading{API: "LDAP", What: "search " + s.AD.DomainDN + " (objectClass=user), Deleted Objects included"}
	t0 := time.Now()
	s.AD.Users = []ADUser{}
	var err error
	for {
		var res *ldap.SearchResult
		res, err = d.Search(req)
		rd.Requests++
		if err != nil {
			err = fmt.Errorf("snapshot: LDAP search of %s: %w", s.AD.DomainDN, err)
			break
		}
		for _, e := range res.Entries {
			u, derr := decodeAD(e)
			if derr != nil {
				err = fmt.Errorf("snapshot: AD object %s: %w", e.DN, derr)
				break
			}
			s.AD.Users = append(s.AD.Users, u)
		}
		if err != nil {
			break
		}
		// The server's paging control carries the cookie of the next
		// page; an empty one ends the search (RFC 2696).
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			break
		}
		paging.SetCookie(pc.Cookie)
	}
	rd.Objects, rd.Took = len(s.AD.Users), since(t0)
	s.Reads = append(s.Reads, rd)
	return err
}

// GeneralizedTime is the LDAP time syntax AD writes whenChanged in.
const generalizedTime = "20060102150405.0Z0700"

func decodeAD(e *ldap.Entry) (ADUser, error) {
	u := ADUser{DistinguishedName: e.DN}
	guid := func(name string) (string, error) {
		b := e.GetRawAttributeValue(name)
		if len(b) == 0 {
			return "", nil
		}
		g, err := anchor.FromBytes(b)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return g.String(), nil
	}
	num := func(name string) (int64, error) {
		v := e.GetAttributeValue(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", name, v, err)
		}
		return n, nil
	}
	var err error
	if u.ObjectGUID, err = guid("objectGUID"); err != nil {
		return u, err
	}
	if u.ObjectGUID == "" {
		return u, errors.New("no objectGUID")
	}
	if u.ConsistencyGUID, err = guid("mS-DS-ConsistencyGuid"); err != nil {
		return u, err
	}
	if u.MailboxGUID, err = guid("msExchMailboxGuid"); err != nil {
		return u, err
	}
	if u.ArchiveGUID, err = guid("msExchArchiveGUID"); err != nil {
		return u, err
	}
	u.CN = e.GetAttributeValue("cn")
	u.SAMAccountName = e.GetAttributeValue("sAMAccountName")
	u.UserPrincipalName = e.GetAttributeValue("userPrincipalName")
	u.DisplayName = e.GetAttributeValue("displayName")
	u.Mail = e.GetAttributeValue("mail")
	u.ProxyAddresses = e.GetAttributeValues("proxyAddresses")
	if len(u.ProxyAddresses) == 0 {
		u.ProxyAddresses = nil
	}
	u.MailNickname = e.GetAttributeValue("mailNickname")
	u.TargetAddress = e.GetAttributeValue("targetAddress")
	u.LastKnownParent = e.GetAttributeValue("lastKnownParent")
	u.IsDeleted = strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE")
	u.IsRecycled = strings.EqualFold(e.GetAttributeValue("isRecycled"), "TRUE")
	for name, p := range map[string]*int64{"msExchRecipientTypeDetails": &u.RecipientTypeDetails,
		"msExchRemoteRecipientType": &u.RemoteRecipientType, "msExchRecipientDisplayType": &u.RecipientDisplayType,
		"uSNChanged": &u.USNChanged, "userAccountControl": &u.UserAccountControl} {
		if *p, err = num(name); err != nil {
			return u, err
		}
	}
	if v := e.GetAttributeValue("whenChanged"); v != "" {
		if u.WhenChanged, err = time.Parse(generalizedTime, v); err != nil {
			return u, fmt.Errorf("whenChanged %q: %w", v, err)
		}
		u.WhenChanged = u.WhenChanged.UTC()
	}
	// pwdLastSet is a FILETIME: 100-nanosecond intervals since 1601-01-01
	// UTC; 0 means the password must change at next logon
	// (https://learn.microsoft.com/windows/win32/adschema/a-pwdlastset).
	ft, err := num("pwdLastSet")
	if err != nil {
		return u, err
	}
	if ft > 0 {
		t := time.Unix(ft/10_000_000-11_644_473_600, ft%10_000_000*100).UTC()
		u.PwdLastSet = &t
	}
	return u, nil
}

func since(t time.Time) Duration { return Duration(time.Since(t).Round(time.Millisecond)) }
