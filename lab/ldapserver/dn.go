package ldapserver

import (
	"encoding/hex"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
)

// canonicalDN is a DN as a client sent it, in the form the model looks up:
// "<GUID=...>" in the dashed spelling, others without spaces around their
// separators.
func canonicalDN(dn string) string {
	dn = strings.TrimSpace(dn)
	if strings.HasPrefix(dn, "<") {
		return normalizeGUIDBase(dn)
	}
	return normalizeDN(dn)
}

// normalizeDN removes the spaces clients may put around the commas and
// equals signs of a DN ("CN=ann, OU=Staff"), which AD ignores and the
// model's DN index does not. Escaped characters are kept as written.
func normalizeDN(dn string) string {
	var out strings.Builder
	var part strings.Builder
	flush := func(sep byte) {
		k, v, ok := cutUnescaped(part.String(), '=')
		if ok {
			out.WriteString(strings.TrimSpace(k))
			out.WriteByte('=')
			out.WriteString(trimUnescaped(v))
		} else {
			out.WriteString(strings.TrimSpace(part.String()))
		}
		if sep != 0 {
			out.WriteByte(sep)
		}
		part.Reset()
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c == '\\' && i+1 < len(dn):
			part.WriteByte(c)
			part.WriteByte(dn[i+1])
			i++
		case c == ',':
			flush(',')
		default:
			part.WriteByte(c)
		}
	}
	flush(0)
	return out.String()
}

// cutUnescaped cuts s around the first sep not escaped by a backslash.
func cutUnescaped(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// trimUnescaped trims spaces from an RDN value, keeping a trailing space
// that a backslash escapes.
func trimUnescaped(v string) string {
	v = strings.TrimLeft(v, " ")
	for strings.HasSuffix(v, " ") && !strings.HasSuffix(v, `\ `) {
		v = v[:len(v)-1]
	}
	return v
}

// normalizeGUIDBase rewrites AD's other spelling of a GUID base,
// "<GUID=" + 32 hex digits of the bytes in AD's layout + ">", into the
// dashed form the model resolves.
func normalizeGUIDBase(base string) string {
	if len(base) != len("<GUID=>")+32 || !strings.HasPrefix(strings.ToUpper(base), "<GUID=") || !strings.HasSuffix(base, ">") {
		return base
	}
	raw, err := hex.DecodeString(base[len("<GUID=") : len(base)-1])
	if err != nil {
		return base
	}
	g, err := anchor.FromBytes(raw)
	if err != nil {
		return base
	}
	return "<GUID=" + g.String() + ">"
}

// under reports whether dn is strictly below parent.
func under(dn, parent string) bool {
	return strings.HasSuffix(strings.ToLower(dn), ","+strings.ToLower(parent))
}

// rdnOf returns the value of dn's first RDN.
func rdnOf(dn string) string {
	first, _, _ := strings.Cut(dn, ",")
	_, v, _ := strings.Cut(first, "=")
	return v
}
