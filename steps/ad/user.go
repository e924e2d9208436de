package ad

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// The LDAP attributes rebind reads from a user.
const (
	attrObjectGUID          = "objectGUID"
	attrConsistencyGUID     = "mS-DS-ConsistencyGuid"
	attrUPN                 = "userPrincipalName"
	attrSAM                 = "sAMAccountName"
	attrMail                = "mail"
	attrProxyAddresses      = "proxyAddresses"
	attrMailNickname        = "mailNickname"
	attrMailboxGUID         = "msExchMailboxGuid"
	attrArchiveGUID         = "msExchArchiveGUID"
	attrTargetAddress       = "targetAddress"
	attrRecipientTypeDetail = "msExchRecipientTypeDetails"
	attrRemoteRecipientType = "msExchRemoteRecipientType"
	attrRecipientDisplay    = "msExchRecipientDisplayType"
	attrIsDeleted           = "isDeleted"
	attrIsRecycled          = "isRecycled"
	attrLastKnownParent     = "lastKnownParent"
	attrName                = "name"
	attrWhenChanged         = "whenChanged"
)

// userAttributes is the attribute list of every user search.
var userAttributes = []string{
	attrObjectGUID, attrConsistencyGUID, attrUPN, attrSAM, attrMail, attrProxyAddresses,
	attrMailNickname, attrMailboxGUID, attrArchiveGUID, attrTargetAddress,
	attrRecipientTypeDetail, attrRemoteRecipientType, attrRecipientDisplay, attrIsDeleted,
}

// isGUIDAttribute reports whether attr holds GUIDs as 16 bytes.
func isGUIDAttribute(attr string) bool { return guidAttributes[strings.ToLower(attr)] }

// guidAttributes hold a GUID as 16 bytes in AD's byte order.
var guidAttributes = map[string]bool{
	strings.ToLower(attrObjectGUID):      true,
	strings.ToLower(attrConsistencyGUID): true,
	strings.ToLower(attrMailboxGUID):     true,
	strings.ToLower(attrArchiveGUID):     true,
}

// UserType is the value of ad_user and of each element of ad_users.users.
var UserType = cty.Object(map[string]cty.Type{
	"dn":                     cty.String,
	"object_guid":            cty.String,
	"immutable_id":           cty.String,
	"consistency_guid":       cty.String,
	"upn":                    cty.String,
	"sam_account_name":       cty.String,
	"mail":                   cty.String,
	"proxy_addresses":        cty.List(cty.String),
	"mail_nickname":          cty.String,
	"exchange_guid":          cty.String,
	"archive_guid":           cty.String,
	"target_address":         cty.String,
	"recipient_type_details": cty.Number,
	"remote_recipient_type":  cty.Number,
	"recipient_display_type": cty.Number,
	"deleted":                cty.Bool,
})

// selectorSchema is the part of a schema that names one user.
func selectorSchema(s steps.Schema) steps.Schema {
	s["upn"] = steps.Attribute{Type: cty.String, PII: true, Doc: "The user's userPrincipalName."}
	s["sam_account_name"] = steps.Attribute{Type: cty.String, PII: true, Doc: "The user's sAMAccountName (pre-Windows 2000 logon name)."}
	s["dn"] = steps.Attribute{Type: cty.String, PII: true, Doc: "The user's distinguished name."}
	s["object_guid"] = steps.Attribute{Type: cty.String, Doc: "The user's objectGUID as a GUID string."}
	return s
}

// selector names one object by exactly one of upn, sam_account_name, dn or
// object_guid.
type selector struct {
	kind  string // the schema attribute used
	value string
	guid  anchor.GUID
}

func (s selector) String() string { return s.kind + " " + s.value }

func selectorFrom(call steps.Call) (selector, error) {
	var found, allowed []string
	var sel selector
	for _, k := range []string{"upn", "sam_account_name", "dn", "object_guid"} {
		if !call.Config.Type().HasAttribute(k) {
			continue
		}
		allowed = append(allowed, k)
		if v, ok := steps.String(call.Config, k); ok {
			found = append(found, k)
			sel = selector{kind: k, value: v}
		}
	}
	if len(found) != 1 {
		return selector{}, steps.Permanent(fmt.Errorf("ad: %s: name the object with exactly one of %s (got %d)", call.Address, strings.Join(allowed, ", "), len(found)))
	}
	s := sel
	if s.kind == "object_guid" {
		g, err := anchor.ParseGUID(s.value)
		if err != nil {
			return s, steps.Permanent(fmt.Errorf("ad: %s: object_guid: %w", call.Address, err))
		}
		s.guid = g
		s.value = g.String()
	}
	return s, nil
}

// selected is the call's directory and the object its selector names,
// what a step or data source that reads one object starts with.
func selected(call steps.Call) (Directory, selector, error) {
	d, err := directory(call)
	if err != nil {
		return nil, selector{}, err
	}
	sel, err := selectorFrom(call)
	return d, sel, err
}

// filter returns the LDAP filter clause that picks the object.
func (s selector) filter() string {
	switch s.kind {
	case "upn":
		return "(" + attrUPN + "=" + ldap.EscapeFilter(s.value) + ")"
	case "sam_account_name":
		return "(" + attrSAM + "=" + ldap.EscapeFilter(s.value) + ")"
	case "object_guid":
		return "(" + attrObjectGUID + "=" + s.guid.EscapeFilter() + ")"
	}
	return "(objectClass=*)"
}

// findUser reads the one live user s names, with attrs.
func findUser(d Directory, s selector, attrs []string) (*ldap.Entry, error) {
	return findEntry(d, s, "user", attrs)
}

// findObject reads the one live object s names, with attrs: a user when
// named by UPN or sAMAccountName, any object (a contact, a group) when named
// by DN or GUID.
func findObject(d Directory, s selector, attrs []string) (*ldap.Entry, error) {
	if s.kind == "dn" || s.kind == "object_guid" {
		return findEntry(d, s, "*", attrs)
	}
	return findUser(d, s, attrs)
}

// noun names what findEntry looks for in messages.
func noun(class string) string {
	if class == "*" {
		return "object"
	}
	return class
}

// findEntry reads the one live entry of objectClass class (or "*") that s
// names: a base search for a DN, else a subtree search under the base DN
// limited to two entries, enough to tell "one" from "ambiguous".
func findEntry(d Directory, s selector, class string, attrs []string) (*ldap.Entry, error) {
	var req *ldap.SearchRequest
	if s.kind == "dn" {
		req = ldap.NewSearchRequest(s.value, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass="+class+")", attrs, nil)
	} else {
		req = ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
			"(&(objectClass="+class+")"+s.filter()+")", attrs, nil)
	}
	res, err := d.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("ad: no %s with %s: %w", noun(class), s, steps.ErrNotFound)
		}
		return nil, wrapErr(err, "read "+noun(class)+" with", s.String(), "")
	}
	if res == nil || len(res.Entries) == 0 {
		return nil, fmt.Errorf("ad: no %s with %s under %s: %w", noun(class), s, d.BaseDN(), steps.ErrNotFound)
	}
	if len(res.Entries) > 1 {
		return nil, steps.Permanent(fmt.Errorf("ad: more than one %s has %s (%s, %s): name it by dn or object_guid", noun(class), s, res.Entries[0].DN, res.Entries[1].DN))
	}
	return res.Entries[0], nil
}

// entryGUID reads a GUID-valued attribute; ok is false when it is absent.
func entryGUID(e *ldap.Entry, attr string) (anchor.GUID, bool, error) {
	raw := e.GetRawAttributeValue(attr)
	if len(raw) == 0 {
		return anchor.GUID{}, false, nil
	}
	g, err := anchor.FromBytes(raw)
	if err != nil {
		return g, false, fmt.Errorf("ad: %s %s: %w", e.DN, attr, err)
	}
	return g, true, nil
}

// objectName is the stable name the engine locks on: "ad:<objectGUID>".
func objectName(g fmt.Stringer) string { return "ad:" + g.String() }

func strOrNull(e *ldap.Entry, attr string) cty.Value {
	v := e.GetAttributeValues(attr)
	if len(v) == 0 {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(v[0])
}

func numOrNull(e *ldap.Entry, attr string) (cty.Value, error) {
	v := e.GetAttributeValue(attr)
	if v == "" {
		return cty.NullVal(cty.Number), nil
	}
	n, ok := new(big.Int).SetString(v, 10)
	if !ok {
		return cty.NilVal, fmt.Errorf("ad: %s %s: %q is not an integer", e.DN, attr, v)
	}
	return cty.NumberVal(new(big.Float).SetInt(n)), nil
}

func guidOrNull(e *ldap.Entry, attr string) (cty.Value, error) {
	g, ok, err := entryGUID(e, attr)
	if err != nil || !ok {
		return cty.NullVal(cty.String), err
	}
	return cty.StringVal(g.String()), nil
}

// userValue turns a user entry into a UserType value. immutable_id is the
// sourceAnchor Entra Connect derives for it: base64 of mS-DS-ConsistencyGuid
// when that is set (Connect's default source anchor since 2017 writes it
// back), else of objectGUID.
func userValue(e *ldap.Entry) (cty.Value, error) {
	og, ok, err := entryGUID(e, attrObjectGUID)
	if err != nil {
		return cty.NilVal, err
	}
	if !ok {
		return cty.NilVal, fmt.Errorf("ad: %s has no objectGUID (is the bind account allowed to read it?)", e.DN)
	}
	anchorGUID := og
	consistency := cty.NullVal(cty.String)
	if cg, ok, err := entryGUID(e, attrConsistencyGUID); err != nil {
		return cty.NilVal, err
	} else if ok {
		consistency = cty.StringVal(cg.String())
		anchorGUID = cg
	}
	v := map[string]cty.Value{
		"dn":               cty.StringVal(e.DN),
		"object_guid":      cty.StringVal(og.String()),
		"immutable_id":     cty.StringVal(anchorGUID.ImmutableID()),
		"consistency_guid": consistency,
		"upn":              strOrNull(e, attrUPN),
		"sam_account_name": strOrNull(e, attrSAM),
		"mail":             strOrNull(e, attrMail),
		"proxy_addresses":  steps.StringList(e.GetAttributeValues(attrProxyAddresses)),
		"mail_nickname":    strOrNull(e, attrMailNickname),
		"target_address":   strOrNull(e, attrTargetAddress),
		"deleted":          cty.BoolVal(strings.EqualFold(e.GetAttributeValue(attrIsDeleted), "TRUE")),
	}
	for name, attr := range map[string]string{"exchange_guid": attrMailboxGUID, "archive_guid": attrArchiveGUID} {
		if v[name], err = guidOrNull(e, attr); err != nil {
			return cty.NilVal, err
		}
	}
	for name, attr := range map[string]string{
		"recipient_type_details": attrRecipientTypeDetail,
		"remote_recipient_type":  attrRemoteRecipientType,
		"recipient_display_type": attrRecipientDisplay,
	} {
		if v[name], err = numOrNull(e, attr); err != nil {
			return cty.NilVal, err
		}
	}
	return cty.ObjectVal(v), nil
}

// displayValues renders raw attribute values for a plan (and, through
// rawValues, for Diff, so that a change is computed from exactly what was
// observed and fingerprinted): a GUID string for
// 16-byte values of a GUID-valued attribute (asGUID), the text for valid
// UTF-8, else "base64:<...>". The values are sorted: AD keeps no order.
func displayValues(asGUID bool, raw [][]byte) (cty.Value, error) {
	if len(raw) == 0 {
		return cty.NullVal(cty.List(cty.String)), nil
	}
	out := make([]string, 0, len(raw))
	for _, b := range raw {
		switch {
		case asGUID && len(b) == 16:
			g, err := anchor.FromBytes(b)
			if err != nil {
				return cty.NilVal, err
			}
			out = append(out, g.String())
		case utf8.Valid(b):
			out = append(out, string(b))
		default:
			out = append(out, "base64:"+base64.StdEncoding.EncodeToString(b))
		}
	}
	sort.Strings(out)
	return steps.StringList(out), nil
}

// notFound reports whether err says the object is absent.
func notFound(err error) bool { return errors.Is(err, steps.ErrNotFound) }

// rawValues is the inverse of displayValues: the bytes each shown value
// stands for. cty keeps strings in Unicode normal form C, so a text value
// stored in another normal form comes back normalized; AD compares such
// values as equal.
func rawValues(asGUID bool, shown cty.Value) ([][]byte, error) {
	if shown.IsNull() {
		return nil, nil
	}
	var out [][]byte
	for it := shown.ElementIterator(); it.Next(); {
		_, v := it.Element()
		s := v.AsString()
		switch {
		case asGUID && len(s) == 36:
			g, err := anchor.ParseGUID(s)
			if err != nil {
				return nil, err
			}
			out = append(out, g.Bytes())
		case strings.HasPrefix(s, "base64:"):
			b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "base64:"))
			if err != nil {
				return nil, fmt.Errorf("ad: value %q: %w", s, err)
			}
			out = append(out, b)
		default:
			out = append(out, []byte(s))
		}
	}
	return out, nil
}
