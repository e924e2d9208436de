package plan

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Redaction (`rebind show --redact`) masks what identifies a person so that a
// plan can be pasted where a wider audience reads it (a pull request, a
// ticket):
//
//   - anything shaped like an address, local@domain (UPNs, mail and proxy
//     addresses, principals): the local part keeps its first character,
//     the domain stays, so a reviewer still sees which tenant and domain a
//     change touches: alice.smith@contoso.com -> a***@contoso.com;
//   - the common name of a distinguished name: CN=Alice Smith,OU=Staff ->
//     CN=A***,OU=Staff;
//   - the values of attributes that hold a person's name (display name,
//     given name, surname, cn).
//
// GUIDs and immutable IDs are kept. They name directory objects, not people,
// and are meaningless without access to the directory; and checking them is
// the review itself: a re-bind is about which anchor ends up on which object,
// so a redacted plan that hid them could not be reviewed.
//
// Redaction is by shape, so it can miss a name written some other way; it
// is for sharing, not a guarantee. The digest of a redacted plan is not the
// plan's: renderers print the original digest.

var (
	addressRE = regexp.MustCompile(`[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)
	cnRE      = regexp.MustCompile(`(?i)\bCN=((?:[^,\\]|\\.)+)`)
)

// nameKeys are attribute names whose values are a person's name.
var nameKeys = map[string]bool{
	"cn": true, "displayname": true, "display_name": true, "givenname": true, "given_name": true,
	"sn": true, "surname": true, "full_name": true,
}

// RedactString masks addresses and common names in s.
func RedactString(s string) string {
	s = addressRE.ReplaceAllStringFunc(s, func(addr string) string {
		at := strings.LastIndexByte(addr, '@')
		return maskWord(addr[:at]) + addr[at:]
	})
	return cnRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "***") {
			return m
		}
		return m[:3] + maskWord(m[3:])
	})
}

// maskWord keeps the first character of w and hides the rest.
func maskWord(w string) string {
	if w == "" {
		return w
	}
	r, n := utf8.DecodeRuneInString(w)
	if n == len(w) {
		return "***"
	}
	return string(r) + "***"
}

// Redact returns a copy of p with personal data masked (see above). p is
// not changed.
func Redact(p *Plan) *Plan {
	c := *p
	c.Runbook.Sources = map[string]string{}
	for n, s := range p.Runbook.Sources {
		c.Runbook.Sources[n] = RedactString(s)
	}
	c.Inputs = map[string]Value{}
	for k, v := range p.Inputs {
		c.Inputs[k] = redactValue(v, nameKeys[strings.ToLower(k)])
	}
	c.Targets = make([]Target, len(p.Targets))
	for i, t := range p.Targets {
		t.Config = redactValue(t.Config, false)
		c.Targets[i] = t
	}
	c.Steps = make([]Step, len(p.Steps))
	for i, s := range p.Steps {
		ins := make([]Instance, len(s.Instances))
		for j, in := range s.Instances {
			in.Address = RedactString(in.Address)
			in.Key = RedactString(in.Key)
			in.Object = RedactString(in.Object)
			in.Observed = redactValue(in.Observed, false)
			in.Before = redactValue(in.Before, false)
			in.After = redactValue(in.After, false)
			in.Notes = mapNonNil(in.Notes, RedactString)
			ins[j] = in
		}
		s.Instances = ins
		s.Unchanged = mapNonNil(s.Unchanged, func(u Unchanged) Unchanged {
			return Unchanged{Key: RedactString(u.Key), Object: RedactString(u.Object), Fingerprint: u.Fingerprint}
		})
		c.Steps[i] = s
	}
	if p.Objects != nil {
		// Keyed by the original objects' digests: a redacted plan is
		// for reading, not for checking.
		c.Objects = make(map[string]Value, len(p.Objects))
		for ref, v := range p.Objects {
			c.Objects[ref] = redactValue(v, false)
		}
	}
	c.Author = RedactString(p.Author)
	c.Signatures = mapNonNil(p.Signatures, func(s Signature) Signature {
		s.Signer = RedactString(s.Signer)
		return s
	})
	return &c
}

// RedactApproval masks the reviewers' names in a.
func RedactApproval(a Approval) Approval { return mapApproval(a, RedactString) }

// redactValue masks strings and object keys throughout v; name says v is
// itself a person's name.
func redactValue(v Value, name bool) Value {
	if v.IsZero() {
		return v
	}
	out, err := json.Marshal(redactTree(v.Tree(), name))
	if err != nil {
		return v
	}
	return Value(out)
}

func redactTree(t any, name bool) any {
	switch t := t.(type) {
	case string:
		if t == Unknown {
			return t
		}
		if name {
			return maskWord(t)
		}
		return RedactString(t)
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[RedactString(k)] = redactTree(v, nameKeys[strings.ToLower(k)])
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			out[i] = redactTree(v, name)
		}
		return out
	}
	return t
}
