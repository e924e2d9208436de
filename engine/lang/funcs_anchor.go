package lang

import (
	"errors"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// ImmutableIDFunc is immutable_id(guid): the onPremisesImmutableId Entra
// Connect derives from an AD objectGUID (or mS-DS-ConsistencyGuid), base64 of
// its bytes in AD's layout. Braces and upper case are accepted.
var ImmutableIDFunc = anchorFunc(
	"Returns the Entra ID immutable ID (sourceAnchor) of an AD object GUID.",
	"guid", cty.String, anchor.ParseGUID,
	func(g anchor.GUID) cty.Value { return cty.StringVal(g.ImmutableID()) })

// GUIDFunc is guid(immutable_id): the canonical lower-case GUID of the AD
// object an immutable ID anchors. An immutable ID that is not base64 of 16
// bytes (one set by hand to an employee number, say) is an error.
var GUIDFunc = anchorFunc(
	"Returns the AD object GUID an Entra ID immutable ID anchors.",
	"immutable_id", cty.String, anchor.FromImmutableID,
	func(g anchor.GUID) cty.Value { return cty.StringVal(g.String()) })

// GUIDBytesFunc is guid_bytes(guid): the 16 bytes AD stores for a GUID
// (objectGUID, msExchMailboxGuid, msExchArchiveGUID), in AD's byte order, as
// a list of numbers from 0 to 255. It shows where the byte order differs
// from the GUID string and feeds tools that take raw bytes.
var GUIDBytesFunc = anchorFunc(
	"Returns the 16 bytes of a GUID in Active Directory's byte order.",
	"guid", cty.List(cty.Number), anchor.ParseGUID,
	func(g anchor.GUID) cty.Value {
		b := g.Bytes()
		out := make([]cty.Value, len(b))
		for i, c := range b {
			out[i] = cty.NumberIntVal(int64(c))
		}
		return cty.ListVal(out)
	})

// LDAPGUIDFilterFunc is ldap_guid_filter(guid): the GUID's bytes in AD's
// order escaped for an LDAP filter value, e.g. `\1e\bc\ff\1e...`, as in
// `(objectGUID=${ldap_guid_filter(var.guid)})`.
var LDAPGUIDFilterFunc = anchorFunc(
	"Returns a GUID's AD bytes escaped for an LDAP filter.",
	"guid", cty.String, anchor.ParseGUID,
	func(g anchor.GUID) cty.Value { return cty.StringVal(g.EscapeFilter()) })

// LDAPEscapeFunc is ldap_escape(value): value written as an LDAP filter
// assertion value, with the characters RFC 4515 section 3 escapes
// (\ * ( ) and NUL) as \5c \2a \28 \29 \00, as in
// `(userPrincipalName=${ldap_escape(each.value)})`: a value that came from
// a CSV matches itself and nothing else, whatever it holds.
var LDAPEscapeFunc = function.New(&function.Spec{
	Description: "Escapes a value for an LDAP filter (RFC 4515): \\ * ( ) and NUL.",
	// Marks handled here, as anchorFunc does, so that an unknown PII
	// value's result stays PII.
	Params: []function.Parameter{{Name: "value", Type: cty.String, AllowMarked: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.String),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull()
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		arg, marks := args[0].Unmark()
		if !arg.IsKnown() {
			return cty.UnknownVal(cty.String).RefineNotNull().WithMarks(marks), nil
		}
		return cty.StringVal(ldapFilterEscapes.Replace(arg.AsString())).WithMarks(marks), nil
	},
})

var ldapFilterEscapes = strings.NewReplacer(`\`, `\5c`, "*", `\2a`, "(", `\28`, ")", `\29`, "\x00", `\00`)

// anchorFunc builds a one-argument conversion. It handles marks itself
// (AllowMarked) for one reason: its error names the invalid value, which it
// must not do for a sensitive one. The result, known or not, carries the
// argument's marks (hence AllowUnknown: go-cty would drop the marks of an
// unknown argument it was not asked to unmark).
func anchorFunc(desc, param string, ret cty.Type, parse func(string) (anchor.GUID, error), out func(anchor.GUID) cty.Value) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: param, Type: cty.String, AllowMarked: true, AllowUnknown: true}},
		Type:        function.StaticReturnType(ret),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			arg, marks := args[0].Unmark()
			if !arg.IsKnown() {
				return cty.UnknownVal(ret).RefineNotNull().WithMarks(marks), nil
			}
			g, err := parse(arg.AsString())
			if err != nil {
				if _, secret := marks[Sensitive]; secret {
					return cty.NilVal, function.NewArgErrorf(0, "the sensitive value given is not a valid %s", strings.ReplaceAll(param, "_", " "))
				}
				return cty.NilVal, function.NewArgError(0, anchorError(err))
			}
			return out(g).WithMarks(marks), nil
		},
	})
}

// anchorError drops the package prefix anchor puts on its errors: in a
// runbook diagnostic the function name already says where it came from.
func anchorError(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), anchor.ErrInvalid.Error()+": "))
}
