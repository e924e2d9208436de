package ldapserver

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
)

// AD's texts for the update errors the runbooks meet.
const (
	diagEntryExists = "00002071: UpdErr: DSID-030503F9, problem 6005 (ENTRY_EXISTS), data 0"
	diagUserExists  = "00000524: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS), data 0"
	diagUPNTaken    = "000021C8: AtrErr: DSID-03200BBA, #1:\n\t0: 000021C8: DSID-03200BBA, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 90290 (userPrincipalName)\n"
	diagConstraint  = "0000202F: AtrErr: problem 1005 (CONSTRAINT_ATT_TYPE), data 0"
	diagWillNot     = "00002035: SvcErr: DSID-03152D2C, problem 5003 (WILL_NOT_PERFORM), data 0"
	diagNoAttr      = "00002083: AtrErr: problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0"
	diagValueExists = "0000200C: AtrErr: problem 1006 (ATT_OR_VALUE_EXISTS), data 0"
	diagUndefined   = "0000200B: AtrErr: problem 1002 (UNDEFINED_ATT_TYPE), data 0"
	diagSyntax      = "0000200B: AtrErr: problem 1001 (INVALID_ATT_SYNTAX), data 0"
)

// with appends the lab's own words to one of AD's texts.
func with(diag string, err error) string { return diag + " (lab: " + err.Error() + ")" }

// respond writes an add, modify or delete response.
func respond(w *gldap.ResponseWriter, r *gldap.Request, app int, e *ldapError) {
	code, diag := gldap.ResultSuccess, ""
	if e != nil {
		code, diag = e.code, e.diag
	}
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app), gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag)))
}

func (h *handlers) add(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetAddMessage()
	if err != nil {
		respond(w, r, gldap.ApplicationAddResponse, refuse(gldap.ResultProtocolError, err.Error()))
		return
	}
	e := h.requireBind(r)
	if e == nil {
		e = checkControls(m.Controls)
	}
	if e == nil {
		e = h.dir.add(canonicalDN(m.DN), m.Attributes)
	}
	respond(w, r, gldap.ApplicationAddResponse, e)
}

// known is every attribute the lab's users carry, lower case.
var known = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range lab.AttributeNames() {
		m[strings.ToLower(n)] = true
	}
	return m
}()

// add creates a user from an add request, checking all of it before the
// model stores anything.
func (d *directory) add(dn string, attrs []gldap.Attribute) *ldapError {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		return refuse(gldap.ResultInvalidDNSyntax, fmt.Sprintf("00002081: NameErr: problem 2003 (BAD_ATT_SYNTAX), data 0 (lab: %q is not a DN of an object in the domain)", dn))
	}
	switch {
	case strings.EqualFold(dn, d.domain) || strings.EqualFold(dn, d.deletedDN()):
		return refuse(gldap.ResultEntryAlreadyExists, diagEntryExists)
	case !under(dn, d.domain):
		return d.noSuchObject(dn)
	case under(dn, d.deletedDN()):
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("objects cannot be added under CN=Deleted Objects")))
	}
	u := lab.ADUser{DN: dn}
	var mods []lab.ADModification
	isUser := false
	for _, a := range attrs {
		name := strings.ToLower(a.Type)
		switch name {
		case "objectclass":
			for _, v := range a.Vals {
				if strings.EqualFold(v, "user") || strings.EqualFold(v, "inetOrgPerson") {
					isUser = true
				}
			}
			continue
		case "cn", "name":
			if len(a.Vals) != 1 || !strings.EqualFold(a.Vals[0], parsed.RDNs[0].Attributes[0].Value) {
				return refuse(gldap.ResultNamingViolation, fmt.Sprintf("00002073: NameErr: problem 2005 (NAMING_VIOLATION), data 0 (lab: %s must be the RDN's value)", a.Type))
			}
			continue
		case "distinguishedname":
			if len(a.Vals) == 1 && strings.EqualFold(a.Vals[0], dn) {
				continue
			}
		}
		if !known[name] {
			return refuse(gldap.ResultUndefinedAttributeType, with(diagUndefined, fmt.Errorf("no attribute %s in the lab's schema", a.Type)))
		}
		mods = append(mods, lab.ADModification{Op: lab.ModReplace, Attr: a.Type, Values: bytesOf(a.Vals...)})
	}
	if !isUser {
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("the lab models user objects only: objectClass must include user")))
	}
	if err := u.Apply(mods); err != nil {
		return modelError(err)
	}
	if _, err := d.t.AddADUser(u); err != nil {
		if errors.Is(err, lab.ErrConflict) && d.samTaken(u.SAMAccountName) {
			return refuse(gldap.ResultEntryAlreadyExists, with(diagUserExists, err))
		}
		return modelError(err)
	}
	return nil
}

// samTaken reports whether a live user holds sam, which AD answers with 68
// where a taken userPrincipalName gets 19.
func (d *directory) samTaken(sam string) bool {
	if sam == "" {
		return false
	}
	us, err := d.t.SearchAD(lab.ADQuery{Match: func(u *lab.ADUser) bool { return strings.EqualFold(u.SAMAccountName, sam) }})
	return err == nil && len(us) > 0
}

// modelError maps the model's errors to AD's result codes.
func modelError(err error) *ldapError {
	switch {
	case errors.Is(err, lab.ErrNotFound):
		return refuse(gldap.ResultNoSuchObject, with("0000208D: NameErr: problem 2001 (NO_OBJECT), data 0", err))
	case errors.Is(err, lab.ErrExists):
		return refuse(gldap.ResultEntryAlreadyExists, with(diagEntryExists, err))
	case errors.Is(err, lab.ErrConflict) && strings.Contains(err.Error(), "userPrincipalName"):
		return refuse(gldap.ResultConstraintViolation, with(diagUPNTaken, err))
	case errors.Is(err, lab.ErrConflict):
		return refuse(gldap.ResultConstraintViolation, with(diagConstraint, err))
	case errors.Is(err, lab.ErrRefused):
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, err))
	case errors.Is(err, lab.ErrInvalid), errors.Is(err, anchor.ErrInvalid):
		return refuse(gldap.ResultInvalidAttributeSyntax, with(diagSyntax, err))
	}
	return refuse(gldap.ResultOther, err.Error())
}

func (h *handlers) del(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetDeleteMessage()
	if err != nil {
		respond(w, r, gldap.ApplicationDelResponse, refuse(gldap.ResultProtocolError, err.Error()))
		return
	}
	e := h.requireBind(r)
	if e == nil {
		e = checkControls(m.Controls)
	}
	if e == nil {
		e = h.dir.del(canonicalDN(m.DN), showDeleted(m.Controls))
	}
	respond(w, r, gldap.ApplicationDelResponse, e)
}

// del moves a live user to CN=Deleted Objects.
func (d *directory) del(dn string, show bool) *ldapError {
	if strings.EqualFold(dn, d.domain) {
		return refuse(gldap.ResultNotAllowedOnNonLeaf, "00002015: UpdErr: DSID-031A1236, problem 6003 (CANT_ON_NON_LEAF), data 0")
	}
	u, err := d.t.ADUser(dn)
	switch {
	case err != nil, u.IsDeleted && !show:
		return d.noSuchObject(dn)
	case u.IsDeleted:
		return refuse(gldap.ResultUnwillingToPerform, with(diagWillNot, errors.New("the object is already deleted")))
	}
	if err := d.t.DeleteADUser(dn); err != nil {
		return modelError(err)
	}
	return nil
}

// modifyValues recovers a modification's values. gldap v0.1.14 hands over
// the encoded content of the values' SET as one string instead of the
// values, so each string is read as a run of BER octet strings.
func modifyValues(vals []string) ([][]byte, error) {
	out := [][]byte{}
	for _, s := range vals {
		rd := bytes.NewReader([]byte(s))
		for rd.Len() > 0 {
			p, err := ber.ReadPacket(rd)
			if err != nil {
				return nil, fmt.Errorf("modify values: %w", err)
			}
			if p.ClassType != ber.ClassUniversal || p.Tag != ber.TagOctetString {
				return nil, fmt.Errorf("modify values: a value is not an octet string")
			}
			out = append(out, p.Data.Bytes())
		}
	}
	return out, nil
}
