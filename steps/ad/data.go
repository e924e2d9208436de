package ad

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// pageSize is the RFC 2696 page size: AD's default MaxPageSize is 1000, and
// asking for more only makes it answer 1000 at a time anyway. It is a
// variable so that tests can make pages small.
var pageSize uint32 = 1000

const permRead = "AD: read users (any authenticated user can)"

func init() {
	steps.RegisterData(userData{})
	steps.RegisterData(usersData{})
	steps.RegisterData(deletedUserData{})
}

// userData is the ad_user data type: one live user and its anchors.
type userData struct{}

func (userData) Info() steps.Info {
	return steps.Info{
		Name: "ad_user",
		Doc: "Reads one Active Directory user by upn, sam_account_name, dn or object_guid: its objectGUID, " +
			"the immutable ID Entra Connect derives from it, mS-DS-ConsistencyGuid, addresses and Exchange attributes.",
		Kind:          steps.KindData,
		Target:        "ad",
		Schema:        selectorSchema(steps.Schema{}),
		Reversibility: steps.Reversible,
		Permissions:   []string{permRead},
	}
}

func (userData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return observeUser(call)
}

// observeUser reads the live user a step's selector names, with the
// attributes ad_user shows.
func observeUser(call steps.Call) (steps.Observation, error) {
	d, sel, err := selected(call)
	if err != nil {
		return steps.Observation{}, err
	}
	e, err := findUser(d, sel, userAttributes)
	if err != nil {
		return steps.Observation{}, err
	}
	return userObservation(e)
}

// userObservation is what observeUser observes of the user entry e.
func userObservation(e *ldap.Entry) (steps.Observation, error) {
	v, err := userValue(e)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: userObjectName(v), Value: v}, nil
}

// userObjectName is the object name of a UserType value.
func userObjectName(v cty.Value) string {
	return objectName(guidString(v.GetAttr("object_guid").AsString()))
}

// guidString is a GUID already in canonical form.
type guidString string

func (g guidString) String() string { return string(g) }

// usersData is the ad_users data type: every user a filter matches, read
// with paged search.
type usersData struct{}

func (usersData) Info() steps.Info {
	return steps.Info{
		Name: "ad_users",
		Doc: "Reads every Active Directory user an LDAP filter matches, with paged search (RFC 2696), " +
			"as a list of the same objects ad_user returns.",
		Kind:   steps.KindData,
		Target: "ad",
		Schema: steps.Schema{
			"filter":      {Type: cty.String, Required: true, Doc: "An LDAP filter, e.g. (department=Sales); it is combined with (objectClass=user)."},
			"search_base": {Type: cty.String, Doc: "The DN to search under (default the target's base_dn)."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{permRead},
	}
}

func (usersData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	d, err := directory(call)
	if err != nil {
		return steps.Observation{}, err
	}
	filter, _ := steps.String(call.Config, "filter")
	if filter = strings.TrimSpace(filter); !strings.HasPrefix(filter, "(") {
		filter = "(" + filter + ")" // department=Sales
	}
	if _, err := ldap.CompileFilter(filter); err != nil {
		return steps.Observation{}, steps.Permanent(fmt.Errorf("ad: %s: filter %q: %w", call.Address, filter, err))
	}
	base, ok := steps.String(call.Config, "search_base")
	if !ok {
		base = d.BaseDN()
	}
	users, err := searchUsers(d, base, filter)
	if err != nil {
		return steps.Observation{}, err
	}
	v := cty.ObjectVal(map[string]cty.Value{"users": cty.ListValEmpty(UserType)})
	if len(users) > 0 {
		v = cty.ObjectVal(map[string]cty.Value{"users": cty.ListVal(users)})
	}
	return steps.Observation{Object: "ad:search:" + base + "?" + filter, Value: v}, nil
}

// searchUsers reads every user under base that filter matches.
func searchUsers(d Directory, base, filter string) ([]cty.Value, error) {
	users, restart, err := searchUserPages(d, base, filter)
	if restart {
		// A page after the first failed: its cookie belongs to the
		// connection the search began on (RFC 2696), so the search
		// starts again, once, as a search of all pages at once would.
		users, _, err = searchUserPages(d, base, filter)
	}
	return users, err
}

// searchUserPages runs the search a page at a time (RFC 2696: the
// server's paging control carries the cookie of the next page, an empty
// one ends the search) and turns each page's entries into values before
// it asks for the next, so that the raw entries of one page, not of every
// user, are in memory at once: go-ldap's entries hold on to the buffers
// their messages were read into, about 2.8 KB a user. restart is true
// when a page after the first failed.
func searchUserPages(d Directory, base, filter string) (users []cty.Value, restart bool, err error) {
	paging := ldap.NewControlPaging(pageSize)
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)"+filter+")", userAttributes, []ldap.Control{paging})
	for page := 0; ; page++ {
		res, err := d.Search(req)
		if err != nil {
			return nil, page > 0, wrapErr(err, "search users under", base, "")
		}
		for _, e := range res.Entries {
			v, err := userValue(e)
			if err != nil {
				return nil, false, err
			}
			users = append(users, v)
		}
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) == 0 {
			if users == nil {
				users = []cty.Value{}
			}
			return users, false, nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// DeletedUserType is the value of ad_deleted_user.
var DeletedUserType = cty.Object(map[string]cty.Type{
	"dn":                cty.String,
	"object_guid":       cty.String,
	"name":              cty.String,
	"sam_account_name":  cty.String,
	"upn":               cty.String,
	"last_known_parent": cty.String,
	"is_recycled":       cty.Bool,
	"when_changed":      cty.String,
})

// deletedUserData is the ad_deleted_user data type: a deleted user read
// through the Show Deleted control.
type deletedUserData struct{}

func (deletedUserData) Info() steps.Info {
	return steps.Info{
		Name: "ad_deleted_user",
		Doc: "Reads a deleted Active Directory user under CN=Deleted Objects (Show Deleted control) by object_guid, " +
			"sam_account_name or upn. Without the AD Recycle Bin a deleted user is a tombstone that has lost its UPN: " +
			"name it by object_guid or sam_account_name.",
		Kind:          steps.KindData,
		Target:        "ad",
		Schema:        deletedSelectorSchema(steps.Schema{}),
		Reversibility: steps.Reversible,
		Permissions:   []string{"AD: read deleted objects (Domain Admins, or List Contents on CN=Deleted Objects)"},
	}
}

func deletedSelectorSchema(s steps.Schema) steps.Schema {
	s = selectorSchema(s)
	delete(s, "dn")
	return s
}

func (deletedUserData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	d, sel, err := selected(call)
	if err != nil {
		return steps.Observation{}, err
	}
	e, err := findDeleted(d, sel)
	if err != nil {
		return steps.Observation{}, err
	}
	v, g, err := deletedValue(e)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: objectName(g), Value: v}, nil
}

var deletedAttributes = []string{attrObjectGUID, attrSAM, attrUPN, attrLastKnownParent, attrIsDeleted, attrIsRecycled, attrName, attrWhenChanged}

// deletedObjectsDN is the container AD moves deleted objects to.
func deletedObjectsDN(d Directory) string { return "CN=Deleted Objects," + d.BaseDN() }

// findDeleted reads the one deleted user s names.
func findDeleted(d Directory, s selector) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(deletedObjectsDN(d), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(isDeleted=TRUE)(objectClass=user)"+s.filter()+")", deletedAttributes,
		[]ldap.Control{ldap.NewControlMicrosoftShowDeleted()})
	res, err := d.Search(req)
	if err != nil {
		return nil, wrapErr(err, "read deleted objects", deletedObjectsDN(d), "")
	}
	switch len(res.Entries) {
	case 0:
		hint := ""
		if s.kind == "upn" {
			hint = " (a tombstone loses its UPN: try object_guid or sam_account_name)"
		}
		return nil, fmt.Errorf("ad: no deleted user with %s%s: %w", s, hint, steps.ErrNotFound)
	case 1:
		return res.Entries[0], nil
	}
	var guids []string
	for _, e := range res.Entries {
		if g, ok, _ := entryGUID(e, attrObjectGUID); ok {
			guids = append(guids, g.String())
		}
	}
	return nil, steps.Permanent(fmt.Errorf("ad: %d deleted users have %s (object GUIDs %s): name one by object_guid",
		len(res.Entries), s, strings.Join(guids, ", ")))
}

// liveName is the RDN value a deleted object had before AD mangled it into
// "name\nDEL:<guid>".
func liveName(e *ldap.Entry) string {
	name := e.GetAttributeValue(attrName)
	if name == "" {
		if dn, err := ldap.ParseDN(e.DN); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 {
			name = dn.RDNs[0].Attributes[0].Value
		}
	}
	return trimDeletedSuffix(name)
}

func deletedValue(e *ldap.Entry) (cty.Value, guidString, error) {
	g, ok, err := entryGUID(e, attrObjectGUID)
	if err != nil {
		return cty.NilVal, "", err
	}
	if !ok {
		return cty.NilVal, "", fmt.Errorf("ad: deleted object %s has no objectGUID", e.DN)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"dn":                cty.StringVal(e.DN),
		"object_guid":       cty.StringVal(g.String()),
		"name":              cty.StringVal(liveName(e)),
		"sam_account_name":  strOrNull(e, attrSAM),
		"upn":               strOrNull(e, attrUPN),
		"last_known_parent": strOrNull(e, attrLastKnownParent),
		"is_recycled":       cty.BoolVal(strings.EqualFold(e.GetAttributeValue(attrIsRecycled), "TRUE")),
		"when_changed":      strOrNull(e, attrWhenChanged),
	}), guidString(g.String()), nil
}
