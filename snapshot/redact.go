package snapshot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Redactor replaces names and addresses with keyed pseudonyms: an HMAC-SHA256
// of the lower-cased value under a key, so the same name becomes the same
// pseudonym wherever it appears (a UPN in Entra ID, a PrimarySmtpAddress in
// Exchange, a userPrincipalName and a cn in AD), and without the key a
// pseudonym cannot be traced back by hashing guesses. GUIDs and immutable
// IDs are kept: they name no one, and the relations between directories
// hang on them.
type Redactor struct {
	key []byte
}

// NewRedactor returns a redactor keyed with key.
func NewRedactor(key []byte) *Redactor { return &Redactor{key: append([]byte(nil), key...)} }

func (r *Redactor) sum(v string) string {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(strings.ToLower(v)))
	return hex.EncodeToString(m.Sum(nil))[:10]
}

// Name is a person's or object's name, an alias or an address's local
// part. A local part Entra ID quarantined as prefix+NNNN keeps its +NNNN,
// so the duplicate stays recognisable.
func (r *Redactor) Name(v string) string {
	if v == "" {
		return ""
	}
	if i := strings.LastIndexByte(v, '+'); i > 0 && i < len(v)-1 && digits(v[i+1:]) {
		return "n" + r.sum(v[:i]) + v[i:]
	}
	return "n" + r.sum(v)
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// keptLabels are domain labels that name no customer: the suffixes
// Microsoft's own domains and common top-level domains use.
var keptLabels = map[string]bool{"com": true, "net": true, "org": true, "onmicrosoft": true, "mail": true, "local": true}

// Domain replaces each label of a DNS name but the common suffixes, so
// contoso.onmicrosoft.com and contoso.mail.onmicrosoft.com keep their
// relation.
func (r *Redactor) Domain(d string) string {
	if d == "" {
		return ""
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if !keptLabels[strings.ToLower(l)] {
			labels[i] = "d" + r.sum("domain:" + l)[:8]
		}
	}
	return strings.Join(labels, ".")
}

// Address is an SMTP address or UPN, with or without a proxy prefix
// (SMTP:, smtp:); an address of another type is replaced whole.
func (r *Redactor) Address(a string) string {
	if a == "" {
		return ""
	}
	prefix := ""
	if i := strings.IndexByte(a, ':'); i > 0 && !strings.Contains(a[:i], "@") {
		prefix, a = a[:i+1], a[i+1:]
		if !strings.EqualFold(prefix, "smtp:") {
			return prefix + r.Name(a)
		}
	}
	local, domain, ok := strings.Cut(a, "@")
	if !ok {
		return prefix + r.Name(a)
	}
	return prefix + r.Name(local) + "@" + r.Domain(domain)
}

// userUPN redacts a user's UPN. A deleted user whose UPN starts with its
// object id without dashes (reported of real tenants, not documented by a
// Microsoft page found) keeps that prefix, ids being kept, and the rest
// gets the pseudonym of the UPN it had.
func (r *Redactor) userUPN(u *User) string {
	p := strings.ReplaceAll(u.ID, "-", "")
	if n := len(p); u.Deleted() && n > 0 && len(u.UserPrincipalName) > n && strings.EqualFold(u.UserPrincipalName[:n], p) &&
		strings.Contains(u.UserPrincipalName[n:], "@") {
		return u.UserPrincipalName[:n] + r.Address(u.UserPrincipalName[n:])
	}
	return r.Address(u.UserPrincipalName)
}

// keptRDNs are the names of AD's own containers.
var keptRDNs = map[string]bool{"users": true, "deleted objects": true, "computers": true, "builtin": true}

// DN replaces each RDN's value: DC= labels as domain labels, the names of
// AD's own containers kept, a deleted object's "\0ADEL:<guid>" mangling
// kept.
func (r *Redactor) DN(dn string) string {
	if dn == "" {
		return ""
	}
	parts := splitDN(dn)
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		switch {
		case strings.EqualFold(strings.TrimSpace(k), "DC"):
			v = r.Domain(v)
		case keptRDNs[strings.ToLower(v)]:
		default:
			v = r.deletedName(v)
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, ",")
}

// splitDN splits a DN at the commas between RDNs, not at escaped ones
// (RFC 4514: "\,").
func splitDN(dn string) []string {
	var out []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			out = append(out, dn[start:i])
			start = i + 1
		}
	}
	return append(out, dn[start:])
}

// deletedName replaces a name that may carry a deleted object's mangling,
// escaped in a DN ("\0ADEL:<guid>") or raw in a cn ("\nDEL:<guid>"),
// keeping the mangling.
func (r *Redactor) deletedName(v string) string {
	for _, m := range []string{`\0ADEL:`, "\nDEL:"} {
		if j := strings.Index(strings.ToUpper(v), strings.ToUpper(m)); j >= 0 {
			return r.Name(v[:j]) + v[j:]
		}
	}
	return r.Name(v)
}

// addressInText finds addresses inside free text (error details).
var addressInText = regexp.MustCompile(`[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// Text replaces every address inside free text.
func (r *Redactor) Text(s string) string {
	return addressInText.ReplaceAllStringFunc(s, r.Address)
}

func (r *Redactor) list(l []string, f func(string) string) []string {
	for i := range l {
		l[i] = f(l[i])
	}
	return l
}

// Apply redacts s in place.
func (r *Redactor) Apply(s *Snapshot) {
	s.Redacted = true
	o := &s.Organization
	o.DisplayName = r.Name(o.DisplayName)
	for i := range o.VerifiedDomains {
		o.VerifiedDomains[i].Name = r.Domain(o.VerifiedDomains[i].Name)
	}
	for i := range s.Users {
		u := &s.Users[i]
		u.DisplayName = r.Name(u.DisplayName)
		u.UserPrincipalName = r.userUPN(u)
		u.Mail = r.Address(u.Mail)
		u.MailNickname = r.Name(u.MailNickname)
		r.list(u.ProxyAddresses, r.Address)
		u.OnPremisesDistinguishedName = r.DN(u.OnPremisesDistinguishedName)
		u.OnPremisesSamAccountName = r.Name(u.OnPremisesSamAccountName)
		u.OnPremisesUserPrincipalName = r.Address(u.OnPremisesUserPrincipalName)
		for j := range u.OnPremisesProvisioningErrors {
			e := &u.OnPremisesProvisioningErrors[j]
			e.Value = r.Text(e.Value)
		}
		for j := range u.ServiceProvisioningErrors {
			e := &u.ServiceProvisioningErrors[j]
			e.ErrorDetail = r.Text(e.ErrorDetail)
			e.ServiceInstance = redactInstance(r, e.ServiceInstance)
		}
	}
	for i := range s.Recipients {
		x := &s.Recipients[i]
		x.Alias = r.Name(x.Alias)
		x.DisplayName = r.Name(x.DisplayName)
		x.UserPrincipalName = r.Address(x.UserPrincipalName)
		x.PrimarySMTPAddress = r.Address(x.PrimarySMTPAddress)
		r.list(x.EmailAddresses, r.Address)
	}
	if dn := s.AD.DomainDN; dn != "" {
		for i := range s.Reads {
			s.Reads[i].What = strings.ReplaceAll(s.Reads[i].What, dn, r.DN(dn))
		}
	}
	s.AD.DomainDN = r.DN(s.AD.DomainDN)
	for i := range s.AD.Users {
		u := &s.AD.Users[i]
		u.DistinguishedName = r.DN(u.DistinguishedName)
		u.CN = r.deletedName(u.CN)
		u.SAMAccountName = r.Name(u.SAMAccountName)
		u.UserPrincipalName = r.Address(u.UserPrincipalName)
		u.DisplayName = r.Name(u.DisplayName)
		u.Mail = r.Address(u.Mail)
		r.list(u.ProxyAddresses, r.Address)
		u.MailNickname = r.Name(u.MailNickname)
		u.TargetAddress = r.Address(u.TargetAddress)
		u.LastKnownParent = r.DN(u.LastKnownParent)
	}
}

// redactInstance redacts a serviceInstance such as
// "exchange/contoso.onmicrosoft.com": the service name is kept, the domain
// replaced.
func redactInstance(r *Redactor, s string) string {
	svc, dom, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	return svc + "/" + r.Domain(dom)
}
