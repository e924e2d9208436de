package ad

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
)

// Error is an LDAP failure put into plain words. It keeps the LDAP result
// code so that callers (and people reading a journal) can tell a duplicate
// UPN from a missing permission, and it names the object and attribute the
// operation was about.
type Error struct {
	// Op is what rebind was doing: "read", "modify", "restore", "delete", "bind".
	Op string
	// Object names the object (a DN, a UPN or "ad:<guid>"); "" when none.
	Object string
	// Attribute is the LDAP attribute involved, "" when the whole object.
	Attribute string
	// Code is the LDAP result code (RFC 4511 section 4.1.9), e.g. 19.
	Code uint16
	// Err is the error go-ldap returned.
	Err error
}

// Error returns "ad: <op> <object> <attribute>: <plain words> (LDAP <code> <name>: <server text>)".
func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("ad: ")
	sb.WriteString(e.Op)
	if e.Object != "" {
		sb.WriteString(" ")
		sb.WriteString(e.Object)
	}
	if e.Attribute != "" {
		sb.WriteString(" attribute ")
		sb.WriteString(e.Attribute)
	}
	sb.WriteString(": ")
	sb.WriteString(plainWords(e.Code, e.Attribute))
	name := ldap.LDAPResultCodeMap[e.Code]
	if name == "" {
		name = "unknown result"
	}
	fmt.Fprintf(&sb, " (LDAP %d %s", e.Code, name)
	if text := serverText(e.Err); text != "" {
		sb.WriteString(": ")
		sb.WriteString(text)
	}
	sb.WriteString(")")
	return sb.String()
}

// Unwrap returns the go-ldap error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, steps.ErrNotFound) true for noSuchObject, so that
// the engine can tell "absent" from "failed".
func (e *Error) Is(target error) bool {
	return target == steps.ErrNotFound && e.Code == ldap.LDAPResultNoSuchObject
}

// plainWords explains a result code the way an administrator would want to
// read it, with the usual cause where AD has one.
func plainWords(code uint16, attribute string) string {
	switch code {
	case ldap.LDAPResultConstraintViolation:
		if strings.EqualFold(attribute, "userPrincipalName") || strings.EqualFold(attribute, "sAMAccountName") {
			return "the directory refused the value because another object already uses it (" + attribute + " must be unique in the forest)"
		}
		return "the directory refused the value: it breaks a constraint (a value another object already holds, a value of the wrong size, or a system-only attribute)"
	case ldap.LDAPResultEntryAlreadyExists:
		return "an object with that name already exists where this one would go: rename or move the existing one, or restore into another OU"
	case ldap.LDAPResultStrongAuthRequired:
		return "the domain controller requires a protected connection for this bind: use ldaps:// or StartTLS"
	case ldap.LDAPResultUnwillingToPerform:
		return "the domain controller is unwilling to perform the operation (for example reanimating an object it no longer allows to be restored, or writing a system-only attribute)"
	case ldap.LDAPResultNoSuchObject:
		return "no such object in the directory"
	case ldap.LDAPResultInvalidCredentials:
		return "the bind DN or password was refused"
	case ldap.LDAPResultInsufficientAccessRights:
		return "the bind account lacks the permission for this operation"
	case ldap.LDAPResultNoSuchAttribute:
		return "the object has no such value to remove"
	case ldap.LDAPResultUndefinedAttributeType:
		return "the attribute is not in the directory's schema (is the Exchange schema extended?)"
	case ldap.LDAPResultObjectClassViolation:
		return "the object's classes do not allow this attribute or value"
	case ldap.LDAPResultInvalidAttributeSyntax:
		return "the value does not fit the attribute's syntax"
	case ldap.LDAPResultAttributeOrValueExists:
		return "the value is already present"
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable:
		return "the domain controller is busy or unavailable; try again"
	case ldap.ErrorNetwork:
		return "the connection to the domain controller failed"
	}
	return "the operation failed"
}

// serverText is the diagnostic message the server sent, if any.
func serverText(err error) string {
	var le *ldap.Error
	switch {
	case errors.As(err, &le) && le.Err != nil:
		return strings.TrimSuffix(strings.TrimSpace(le.Err.Error()), "\x00")
	case errors.As(err, &le):
		return ""
	case err != nil:
		return err.Error()
	}
	return ""
}

// transient reports whether retrying the same request may succeed.
func transient(code uint16) bool {
	switch code {
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultAdminLimitExceeded, ldap.LDAPResultOther, ldap.ErrorNetwork:
		return true
	}
	return false
}

// wrapErr turns a go-ldap error into an *Error naming op, object and
// attribute. Failures that retrying cannot fix are also marked
// steps.Permanent, so that `retry` and `await` stop at once; errors.As still
// finds the *Error inside.
func wrapErr(err error, op, object, attribute string) error {
	if err == nil {
		return nil
	}
	var le *ldap.Error
	code := uint16(ldap.ErrorNetwork)
	if errors.As(err, &le) {
		code = le.ResultCode
	}
	e := &Error{Op: op, Object: object, Attribute: attribute, Code: code, Err: err}
	if transient(code) {
		return e
	}
	return steps.Permanent(e)
}

// IsCode reports whether err is or wraps an *Error (or a go-ldap error) with
// the given LDAP result code.
func IsCode(err error, code uint16) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == code
	}
	return ldap.IsErrorWithCode(err, code)
}
