package ldapserver

import (
	"strings"

	"github.com/rebind-dev/rebind/lab"
)

// The constructed attributes that say what the bound account may do to an
// object: allowedAttributesEffective, "A list of attributes that can be
// modified on the object"
// (https://learn.microsoft.com/windows/win32/adschema/a-allowedattributeseffective),
// and allowedChildClassesEffective, the classes of objects it may create
// below it
// (https://learn.microsoft.com/windows/win32/adschema/a-allowedchildclasseseffective).
// "Constructed attributes cannot be returned in a query unless specified"
// (https://learn.microsoft.com/previous-versions/ms815727(v=msdn.10)), and
// cannot be used in filters: they are added to an entry only when the
// request names them, after the filter matched.
//
// The lab has one account, the domain's Administrator, which may modify
// every attribute of a live user the lab's modify accepts and create users
// below the domain head; its allowed attributes are lab.ModifiableAttributeNames.
const (
	attrAllowedAttributesEffective   = "allowedAttributesEffective"
	attrAllowedChildClassesEffective = "allowedChildClassesEffective"
)

// withConstructed adds to a the constructed attributes sel names
// explicitly.
func (d *directory) withConstructed(o object, a attrSet, sel selection) attrSet {
	wantAttrs := sel.names[strings.ToLower(attrAllowedAttributesEffective)]
	wantClasses := sel.names[strings.ToLower(attrAllowedChildClassesEffective)]
	if !wantAttrs && !wantClasses {
		return a
	}
	out := make(attrSet, len(a)+2)
	for k, v := range a {
		out[k] = v
	}
	switch {
	case o.user != nil && !o.user.IsDeleted:
		if wantAttrs {
			out[attrAllowedAttributesEffective] = bytesOf(lab.ModifiableAttributeNames()...)
		}
	case o.user == nil && strings.EqualFold(o.dn, d.domain):
		if wantClasses {
			out[attrAllowedChildClassesEffective] = bytesOf("user")
		}
	}
	return out
}
