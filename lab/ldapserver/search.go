package ldapserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/jimlambrt/gldap"

	"github.com/rebind-dev/rebind/lab"
)

// Controls the lab implements, as the rootDSE's supportedControl lists them.
const (
	oidPagedResults = gldap.ControlTypePaging
	oidShowDeleted  = gldap.ControlTypeMicrosoftShowDeleted
	oidStartTLS     = string(gldap.ExtendedOperationStartTLS)
)

// maxOpenPages is how many paged searches a connection may leave open, as
// AD's MaxResultSetsPerConn policy; opening one more drops an older one.
const maxOpenPages = 10

// object is one entry a search returns: a user of the model, or an entry
// the server makes up (the domain head, CN=Deleted Objects).
type object struct {
	user  *lab.ADUser
	dn    string
	fixed attrSet
}

func (o object) DN() string {
	if o.user != nil {
		return o.user.DN
	}
	return o.dn
}

// attributes returns the object's attributes; a user's are made afresh
// from the model's copy.
func (o object) attributes(d *directory) attrSet {
	if o.user == nil {
		return o.fixed
	}
	a := attrSet(o.user.Attributes())
	if !o.user.IsDeleted {
		// Deletion strips objectCategory, as it does on AD.
		a["objectCategory"] = [][]byte{[]byte("CN=Person," + d.schemaDN())}
	}
	return a
}

// pagedSearch is the rest of a paged search, kept between pages under its
// cookie. key ties the cookie to the search it came from.
type pagedSearch struct {
	key  string
	rest []object
}

func (d *directory) configDN() string { return "CN=Configuration," + d.domain }
func (d *directory) schemaDN() string { return "CN=Schema," + d.configDN() }
func (d *directory) deletedDN() string {
	return "CN=Deleted Objects," + d.domain
}

func (h *handlers) search(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	done := func(code int, diag string, ctrls ...gldap.Control) {
		resp := r.NewSearchDoneResponse(gldap.WithResponseCode(code))
		resp.SetDiagnosticMessage(diag)
		if len(ctrls) > 0 {
			resp.SetControls(ctrls...)
		}
		_ = w.Write(resp)
	}
	fail := func(e *ldapError) { done(e.code, e.diag) }
	if e := checkControls(m.Controls); e != nil {
		fail(e)
		return
	}
	match, err := compileFilter(m.Filter)
	if err != nil {
		done(gldap.ResultProtocolError, err.Error())
		return
	}
	sel := newSelection(m.Attributes, m.TypesOnly)
	base := strings.TrimSpace(m.BaseDN)
	if base == "" && m.Scope == gldap.BaseObject {
		a := h.dir.rootDSE()
		if match(a) && !writeEntry(w, r, "", a, sel) {
			return
		}
		done(gldap.ResultSuccess, "")
		return
	}
	if e := h.requireBind(r); e != nil {
		fail(e)
		return
	}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	show := showDeleted(m.Controls)
	if paging == nil {
		objs, e := h.dir.find(base, m.Scope, show, match)
		if e != nil {
			fail(e)
			return
		}
		limit, code := h.dir.maxPage, gldap.ResultSuccess
		if m.SizeLimit > 0 && int(m.SizeLimit) < limit {
			limit = int(m.SizeLimit)
		}
		if len(objs) > limit {
			objs, code = objs[:limit], gldap.ResultSizeLimitExceeded
		}
		for _, o := range objs {
			if !writeEntry(w, r, o.DN(), h.dir.withConstructed(o, o.attributes(h.dir), sel), sel) {
				return
			}
		}
		done(code, "")
		return
	}
	key := strings.Join([]string{strings.ToLower(base), string(rune('0' + m.Scope)), m.Filter, boolText(show)}, "\x00")
	page, next, e := h.page(r.ConnectionID(), paging, key, func() ([]object, *ldapError) {
		return h.dir.find(base, m.Scope, show, match)
	})
	if e != nil {
		fail(e)
		return
	}
	for _, o := range page {
		if !writeEntry(w, r, o.DN(), h.dir.withConstructed(o, o.attributes(h.dir), sel), sel) {
			return
		}
	}
	done(gldap.ResultSuccess, "", &gldap.ControlPaging{Cookie: next})
}

// page returns the next page of a paged search and the cookie that asks
// for the one after it (empty after the last). A search without a cookie
// starts over by calling find; a page size of 0 with a cookie abandons the
// search (RFC 2696).
func (h *handlers) page(conn int, p *gldap.ControlPaging, key string, find func() ([]object, *ldapError)) ([]object, []byte, *ldapError) {
	size := int(p.PagingSize)
	if size > h.dir.maxPage || size <= 0 && len(p.Cookie) == 0 {
		size = h.dir.maxPage
	}
	var rest []object
	if len(p.Cookie) == 0 {
		objs, e := find()
		if e != nil {
			return nil, nil, e
		}
		rest = objs
	} else {
		var ps *pagedSearch
		h.conns.with(conn, func(st *connState) {
			ps = st.pages[string(p.Cookie)]
			delete(st.pages, string(p.Cookie))
		})
		if ps == nil || ps.key != key {
			return nil, nil, refuse(gldap.ResultUnwillingToPerform,
				"00002024: SvcErr: DSID-02080485, problem 5003 (WILL_NOT_PERFORM), data 0 (lab: the paged results cookie is unknown, used up, or from another search)")
		}
		if size == 0 {
			return nil, nil, nil
		}
		rest = ps.rest
	}
	if len(rest) <= size {
		return rest, nil, nil
	}
	cookie := newCookie()
	h.conns.with(conn, func(st *connState) {
		if st.pages == nil {
			st.pages = map[string]*pagedSearch{}
		}
		for k := range st.pages {
			if len(st.pages) < maxOpenPages {
				break
			}
			delete(st.pages, k)
		}
		st.pages[string(cookie)] = &pagedSearch{key: key, rest: rest[size:]}
	})
	return rest[:size], cookie, nil
}

func newCookie() []byte {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return []byte(hex.EncodeToString(b))
}

func boolText(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// find returns the objects a search selects, sorted by DN, or AD's error
// for a base that does not exist. Without Show Deleted nothing under
// CN=Deleted Objects exists, the container included.
func (d *directory) find(base string, scope gldap.Scope, show bool, match matcher) ([]object, *ldapError) {
	base = canonicalDN(base)
	keep := func(objs ...object) []object {
		var out []object
		for _, o := range objs {
			if match(o.attributes(d)) {
				out = append(out, o)
			}
		}
		return out
	}
	lbase := strings.ToLower(base)
	underDomain := lbase == strings.ToLower(d.domain) || strings.HasSuffix(lbase, ","+strings.ToLower(d.domain))
	inDeleted := lbase == strings.ToLower(d.deletedDN()) || strings.HasSuffix(lbase, ","+strings.ToLower(d.deletedDN()))
	isGUID := strings.HasPrefix(lbase, "<guid=")
	switch {
	case base == "":
		return nil, d.noSuchObject(`""`)
	case !isGUID && !underDomain:
		return nil, d.noSuchObject(base)
	case inDeleted && !show:
		return nil, d.noSuchObject(base)
	}
	if scope == gldap.BaseObject || isGUID {
		switch {
		case strings.EqualFold(base, d.domain):
			return keep(d.domainHead()), nil
		case strings.EqualFold(base, d.deletedDN()):
			return keep(d.deletedHead()), nil
		}
		u, err := d.t.ADUser(base)
		if err != nil || u.IsDeleted && !show {
			return nil, d.noSuchObject(base)
		}
		if scope == gldap.SingleLevel {
			return nil, nil
		}
		return keep(object{user: &u}), nil
	}
	q := lab.ADQuery{BaseDN: base, Scope: lab.ScopeSubtree, ShowDeleted: show, Match: func(u *lab.ADUser) bool {
		return match(object{user: u}.attributes(d))
	}}
	if scope == gldap.SingleLevel {
		q.Scope = lab.ScopeOneLevel
	}
	users, err := d.t.SearchAD(q)
	if errors.Is(err, lab.ErrNotFound) {
		return nil, d.noSuchObject(base)
	}
	if err != nil {
		return nil, refuse(gldap.ResultOther, err.Error())
	}
	// The domain head and, with Show Deleted, CN=Deleted Objects are in
	// scope like any object, and the filter decides.
	atDomain, atDeleted := strings.EqualFold(base, d.domain), strings.EqualFold(base, d.deletedDN())
	out := make([]object, 0, len(users)+2)
	if scope == gldap.WholeSubtree && atDomain {
		out = append(out, keep(d.domainHead())...)
	}
	if show && (scope == gldap.WholeSubtree && (atDomain || atDeleted) || scope == gldap.SingleLevel && atDomain) {
		out = append(out, keep(d.deletedHead())...)
	}
	for i := range users {
		out = append(out, object{user: &users[i]})
	}
	return out, nil
}

// domainHead is the domainDNS object at the top of the naming context.
func (d *directory) domainHead() object {
	return object{dn: d.domain, fixed: attrSet{
		"objectClass":       bytesOf("top", "domain", "domainDNS"),
		"distinguishedName": bytesOf(d.domain),
		"name":              bytesOf(rdnOf(d.domain)),
		"dc":                bytesOf(rdnOf(d.domain)),
		"objectCategory":    bytesOf("CN=Domain-DNS," + d.schemaDN()),
	}}
}

// deletedHead is the CN=Deleted Objects container, itself deleted.
func (d *directory) deletedHead() object {
	return object{dn: d.deletedDN(), fixed: attrSet{
		"objectClass":       bytesOf("top", "container"),
		"distinguishedName": bytesOf(d.deletedDN()),
		"cn":                bytesOf("Deleted Objects"),
		"name":              bytesOf("Deleted Objects"),
		"isDeleted":         bytesOf("TRUE"),
		"objectCategory":    bytesOf("CN=Container," + d.schemaDN()),
	}}
}

// rootDSE is what AD says about itself to anyone, bound or not.
func (d *directory) rootDSE() attrSet {
	host := dcHostName(d.domain)
	server := "CN=LAB-DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites," + d.configDN()
	return attrSet{
		"currentTime":                   bytesOf(d.t.Now().UTC().Format(lab.GeneralizedTime)),
		"highestCommittedUSN":           bytesOf(strconv.FormatInt(d.t.ADHighestUSN(), 10)),
		"defaultNamingContext":          bytesOf(d.domain),
		"rootDomainNamingContext":       bytesOf(d.domain),
		"configurationNamingContext":    bytesOf(d.configDN()),
		"schemaNamingContext":           bytesOf(d.schemaDN()),
		"namingContexts":                bytesOf(d.domain, d.configDN(), d.schemaDN()),
		"dnsHostName":                   bytesOf(host),
		"ldapServiceName":               bytesOf(dnsDomain(d.domain) + ":" + strings.TrimSuffix(strings.ToLower(host), "."+dnsDomain(d.domain)) + "$@" + strings.ToUpper(dnsDomain(d.domain))),
		"serverName":                    bytesOf(server),
		"dsServiceName":                 bytesOf("CN=NTDS Settings," + server),
		"supportedControl":              bytesOf(oidPagedResults, oidShowDeleted),
		"supportedExtension":            bytesOf(oidStartTLS),
		"supportedLDAPVersion":          bytesOf("3"),
		"supportedLDAPPolicies":         bytesOf("MaxPageSize", "MaxResultSetsPerConn"),
		"isSynchronized":                bytesOf("TRUE"),
		"domainFunctionality":           bytesOf("7"),
		"forestFunctionality":           bytesOf("7"),
		"domainControllerFunctionality": bytesOf("7"),
	}
}

func bytesOf(vs ...string) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

// selection is the attribute list of a search request.
type selection struct {
	all       bool
	names     map[string]bool // lower case
	typesOnly bool
}

// newSelection reads a request's attribute list: none or "*" selects every
// attribute, "1.1" alone selects none, names match in any case.
func newSelection(attrs []string, typesOnly bool) selection {
	s := selection{names: map[string]bool{}, typesOnly: typesOnly, all: len(attrs) == 0}
	for _, a := range attrs {
		switch a = strings.TrimSpace(a); a {
		case "*":
			s.all = true
		case "1.1", "":
		default:
			s.names[strings.ToLower(a)] = true
		}
	}
	return s
}

// writeEntry sends one search result entry with the selected attributes in
// their schema spelling, sorted by name; it reports false when the client
// is gone.
func writeEntry(w *gldap.ResponseWriter, r *gldap.Request, dn string, a attrSet, sel selection) bool {
	names := make([]string, 0, len(a))
	for n := range a {
		if sel.all || sel.names[strings.ToLower(n)] {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	e := r.NewSearchResponseEntry(dn)
	for _, n := range names {
		var vals []string
		if !sel.typesOnly {
			vals = make([]string, len(a[n]))
			for i, v := range a[n] {
				vals[i] = string(v)
			}
		}
		e.AddAttribute(n, vals)
	}
	return w.Write(e) == nil
}
