package ldapserver

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"

	"github.com/rebind-dev/rebind/lab"
)

func (h *handlers) modify(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetModifyMessage()
	if err != nil {
		respond(w, r, gldap.ApplicationModifyResponse, refuse(gldap.ResultProtocolError, err.Error()))
		return
	}
	e := h.requireBind(r)
	if e == nil {
		e = checkControls(m.Controls)
	}
	if e == nil {
		e = h.dir.modify(canonicalDN(m.DN), m.Changes, showDeleted(m.Controls))
	}
	respond(w, r, gldap.ApplicationModifyResponse, e)
}

// modify applies a modify request: reanimation when it deletes isDeleted,
// else the changes to the user's attributes, all or none.
func (d *directory) modify(dn string, changes []gldap.Change, show bool) *ldapError {
	u, err := d.t.ADUser(dn)
	if err != nil || u.IsDeleted && !show {
		return d.noSuchObject(dn)
	}
	var mods []lab.ADModification
	var undelete, newDN bool
	var target string
	for _, c := range changes {
		vals, err := modifyValues(c.Modification.Vals)
		if err != nil {
			return refuse(gldap.ResultProtocolError, err.Error())
		}
		name := strings.ToLower(strings.TrimSpace(c.Modification.Type))
		switch {
		case name == "isdeleted" && c.Operation == gldap.DeleteAttribute:
			undelete = true
			continue
		case name == "distinguishedname" && c.Operation == gldap.ReplaceAttribute:
			if len(vals) != 1 {
				return refuse(gldap.ResultConstraintViolation, with(diagConstraint, errors.New("distinguishedName takes one value")))
			}
			newDN, target = true, canonicalDN(string(vals[0]))
			continue
		}
		var op lab.ADModOp
		switch c.Operation {
		case gldap.AddAttribute:
			op = lab.ModAdd
		case gldap.DeleteAttribute:
			op = lab.ModDelete
		case gldap.ReplaceAttribute:
			op = lab.ModReplace
		default:
			return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, fmt.Errorf("modify operation %d on %s", c.Operation, c.Modification.Type)))
		}
		if !known[name] {
			return refuse(gldap.ResultUndefinedAttributeType, with(diagUndefined, fmt.Errorf("no attribute %s in the lab's schema", c.Modification.Type)))
		}
		mods = append(mods, lab.ADModification{Op: op, Attr: c.Modification.Type, Values: vals})
	}
	switch {
	case undelete && newDN:
		return d.reanimate(u, target, mods)
	case undelete:
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("deleting isDeleted restores an object only with a replace of distinguishedName in the same request")))
	case newDN:
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("distinguishedName changes only to restore a deleted object; use ModifyDN to move a live one")))
	}
	if e := checkMods(u, mods); e != nil {
		return e
	}
	if _, err := d.t.ModifyAD(u.DN, mods); err != nil {
		return modifyError(err)
	}
	return nil
}

// reanimate restores a deleted user to target, as AD does for the Modify
// that deletes isDeleted and replaces distinguishedName, then applies the
// request's other changes to the restored object. AD applies them in the
// same transaction; the lab applies them right after, so when one of them
// fails the object is restored without it and the error says so.
func (d *directory) reanimate(u lab.ADUser, target string, mods []lab.ADModification) *ldapError {
	if !u.IsDeleted {
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, fmt.Errorf("%s is not deleted", u.DN)))
	}
	if _, err := ldap.ParseDN(target); err != nil || !under(target, d.domain) {
		return refuse(gldap.ResultInvalidDNSyntax, fmt.Sprintf("00002081: NameErr: problem 2003 (BAD_ATT_SYNTAX), data 0 (lab: %q is not a DN in the domain)", target))
	}
	if under(target, d.deletedDN()) {
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("an object cannot be restored into CN=Deleted Objects")))
	}
	restored, err := d.t.ReanimateADUser(u.DN, target)
	if err != nil {
		return modelError(err)
	}
	if len(mods) == 0 {
		return nil
	}
	if e := checkMods(restored, mods); e != nil {
		e.diag += " (lab: the object was restored to " + restored.DN + " without this request's other changes)"
		return e
	}
	if _, err := d.t.ModifyAD(restored.DN, mods); err != nil {
		e := modifyError(err)
		e.diag += " (lab: the object was restored to " + restored.DN + " without this request's other changes)"
		return e
	}
	return nil
}

// checkMods answers what the model would let through but AD refuses:
// deleting a value or an attribute that is not there (16 noSuchAttribute),
// adding a value a single-valued attribute already has (20
// attributeOrValueExists) or a second value (19 constraintViolation).
func checkMods(u lab.ADUser, mods []lab.ADModification) *ldapError {
	have := attrSet(u.Attributes())
	for _, m := range mods {
		cur := have.get(m.Attr)
		if strings.EqualFold(m.Attr, "proxyAddresses") {
			if m.Op == lab.ModDelete && len(m.Values) == 0 && len(cur) == 0 {
				return refuse(gldap.ResultNoSuchAttribute, with(diagNoAttr, fmt.Errorf("%s has no proxyAddresses", u.DN)))
			}
			continue
		}
		cmp := comparer(m.Attr)
		same := func(v []byte) bool {
			for _, c := range cur {
				if n, ok := cmp(c, v); ok && n == 0 || bytes.Equal(c, v) {
					return true
				}
			}
			return false
		}
		switch m.Op {
		case lab.ModDelete:
			if len(cur) == 0 {
				return refuse(gldap.ResultNoSuchAttribute, with(diagNoAttr, fmt.Errorf("%s has no %s", u.DN, m.Attr)))
			}
			for _, v := range m.Values {
				if !same(v) {
					return refuse(gldap.ResultNoSuchAttribute, with(diagNoAttr, fmt.Errorf("%s of %s has no value %q", m.Attr, u.DN, v)))
				}
			}
		case lab.ModAdd:
			if len(m.Values) == 0 {
				return refuse(gldap.ResultProtocolError, fmt.Sprintf("add of %s carries no value", m.Attr))
			}
			if len(cur) > 0 {
				if len(m.Values) == 1 && same(m.Values[0]) {
					return refuse(gldap.ResultAttributeOrValueExists, with(diagValueExists, fmt.Errorf("%s already has that value", m.Attr)))
				}
				return refuse(gldap.ResultConstraintViolation, with(diagConstraint, fmt.Errorf("%s is single-valued and already set", m.Attr)))
			}
		}
	}
	return nil
}

// modifyError maps the model's errors for a modify of an existing object:
// a value already there is 20, a value that is not is 16.
func modifyError(err error) *ldapError {
	switch {
	case errors.Is(err, lab.ErrExists):
		return refuse(gldap.ResultAttributeOrValueExists, with(diagValueExists, err))
	case errors.Is(err, lab.ErrNotFound):
		return refuse(gldap.ResultNoSuchAttribute, with(diagNoAttr, err))
	}
	return modelError(err)
}
