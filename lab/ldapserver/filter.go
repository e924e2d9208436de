package ldapserver

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// attrSet is an object's attributes keyed by their canonical names, values
// raw as they go on the wire.
type attrSet map[string][][]byte

// get returns the values of name in any case.
func (a attrSet) get(name string) [][]byte {
	if v, ok := a[name]; ok {
		return v
	}
	for k, v := range a {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// matcher reports whether an object's attributes satisfy a filter.
type matcher func(attrSet) bool

// AD's matching rules for bit tests (LDAP_MATCHING_RULE_BIT_AND / _OR) and
// for walking a chain of links, which the lab has none of.
const (
	ruleBitAnd  = "1.2.840.113556.1.4.803"
	ruleBitOr   = "1.2.840.113556.1.4.804"
	ruleInChain = "1.2.840.113556.1.4.1941"
)

// compileFilter turns a filter in its string form (gldap hands the filter
// over decompiled, with every byte outside printable ASCII escaped) into a
// matcher. Matching follows AD rather than RFC 4511's three-valued logic: an
// assertion on an attribute the object lacks is false, so its negation is
// true.
func compileFilter(filter string) (matcher, error) {
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", filter, err)
	}
	return compilePacket(p)
}

func compilePacket(p *ber.Packet) (matcher, error) {
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr:
		subs := make([]matcher, 0, len(p.Children))
		for _, c := range p.Children {
			m, err := compilePacket(c)
			if err != nil {
				return nil, err
			}
			subs = append(subs, m)
		}
		if p.Tag == ldap.FilterAnd {
			return func(a attrSet) bool {
				for _, m := range subs {
					if !m(a) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(a attrSet) bool {
			for _, m := range subs {
				if m(a) {
					return true
				}
			}
			return false
		}, nil
	case ldap.FilterNot:
		if len(p.Children) != 1 {
			return nil, fmt.Errorf("filter: not takes one filter")
		}
		sub, err := compilePacket(p.Children[0])
		if err != nil {
			return nil, err
		}
		return func(a attrSet) bool { return !sub(a) }, nil
	case ldap.FilterPresent:
		name := p.Data.String()
		if strings.EqualFold(name, "objectClass") {
			return func(attrSet) bool { return true }, nil
		}
		return func(a attrSet) bool { return len(a.get(name)) > 0 }, nil
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return nil, fmt.Errorf("filter: an assertion takes an attribute and a value")
		}
		name, want := p.Children[0].Data.String(), p.Children[1].Data.Bytes()
		cmp := comparer(name)
		tag := p.Tag
		return func(a attrSet) bool {
			for _, v := range a.get(name) {
				c, ok := cmp(v, want)
				if !ok {
					continue
				}
				switch {
				case tag == ldap.FilterGreaterOrEqual && c >= 0,
					tag == ldap.FilterLessOrEqual && c <= 0,
					(tag == ldap.FilterEqualityMatch || tag == ldap.FilterApproxMatch) && c == 0:
					return true
				}
			}
			return false
		}, nil
	case ldap.FilterSubstrings:
		return compileSubstrings(p)
	case ldap.FilterExtensibleMatch:
		return compileExtensible(p)
	}
	return nil, fmt.Errorf("filter: unknown filter choice %d", p.Tag)
}

// compileSubstrings matches initial*any*...*final, case-insensitively but
// on binary attributes.
func compileSubstrings(p *ber.Packet) (matcher, error) {
	if len(p.Children) != 2 {
		return nil, fmt.Errorf("filter: substrings take an attribute and parts")
	}
	name := p.Children[0].Data.String()
	binary := isBinary(name)
	norm := func(b []byte) []byte {
		if binary {
			return b
		}
		return bytes.ToLower(b)
	}
	type part struct {
		tag ber.Tag
		v   []byte
	}
	var parts []part
	for _, c := range p.Children[1].Children {
		parts = append(parts, part{c.Tag, norm(c.Data.Bytes())})
	}
	return func(a attrSet) bool {
	values:
		for _, raw := range a.get(name) {
			v := norm(raw)
			for _, pt := range parts {
				switch pt.tag {
				case ldap.FilterSubstringsInitial:
					if !bytes.HasPrefix(v, pt.v) {
						continue values
					}
					v = v[len(pt.v):]
				case ldap.FilterSubstringsAny:
					i := bytes.Index(v, pt.v)
					if i < 0 {
						continue values
					}
					v = v[i+len(pt.v):]
				case ldap.FilterSubstringsFinal:
					if !bytes.HasSuffix(v, pt.v) {
						continue values
					}
					v = v[len(v):]
				}
			}
			return true
		}
		return false
	}, nil
}

// compileExtensible supports AD's bitwise rules on integer attributes and
// treats the in-chain rule as equality (the lab has no linked attributes).
func compileExtensible(p *ber.Packet) (matcher, error) {
	var rule, name string
	var want []byte
	for _, c := range p.Children {
		switch c.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			rule = c.Data.String()
		case ldap.MatchingRuleAssertionType:
			name = c.Data.String()
		case ldap.MatchingRuleAssertionMatchValue:
			want = c.Data.Bytes()
		}
	}
	switch rule {
	case ruleBitAnd, ruleBitOr:
		mask, err := strconv.ParseInt(string(want), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("filter: %s wants an integer, got %q", rule, want)
		}
		return func(a attrSet) bool {
			for _, v := range a.get(name) {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					continue
				}
				if rule == ruleBitAnd && n&mask == mask || rule == ruleBitOr && n&mask != 0 {
					return true
				}
			}
			return false
		}, nil
	case ruleInChain, "":
		cmp := comparer(name)
		return func(a attrSet) bool {
			for _, v := range a.get(name) {
				if c, ok := cmp(v, want); ok && c == 0 {
					return true
				}
			}
			return false
		}, nil
	}
	return func(attrSet) bool { return false }, nil
}

// comparer returns how values of the attribute compare, by its syntax in
// AD's schema: octet strings byte for byte, integers as numbers,
// objectCategory by DN or by the short name AD expands, everything else as
// case-insensitive strings. ok is false when the values cannot be compared.
func comparer(name string) func(have, want []byte) (c int, ok bool) {
	switch {
	case isBinary(name):
		return func(have, want []byte) (int, bool) { return bytes.Compare(have, want), true }
	case isInteger(name):
		return func(have, want []byte) (int, bool) {
			h, err1 := strconv.ParseInt(string(have), 10, 64)
			w, err2 := strconv.ParseInt(string(want), 10, 64)
			if err1 != nil || err2 != nil {
				return 0, false
			}
			switch {
			case h < w:
				return -1, true
			case h > w:
				return 1, true
			}
			return 0, true
		}
	case strings.EqualFold(name, "objectCategory"):
		return func(have, want []byte) (int, bool) {
			if !bytes.ContainsRune(want, '=') {
				// (objectCategory=person) names the class's
				// defaultObjectCategory by its CN.
				if strings.EqualFold(rdnOf(string(have)), string(want)) {
					return 0, true
				}
			}
			return strings.Compare(strings.ToLower(string(have)), strings.ToLower(string(want))), true
		}
	}
	return func(have, want []byte) (int, bool) {
		return strings.Compare(strings.ToLower(string(have)), strings.ToLower(string(want))), true
	}
}

// isBinary reports whether AD's schema gives the attribute the octet
// string syntax.
func isBinary(name string) bool {
	switch strings.ToLower(name) {
	case "objectguid", "ms-ds-consistencyguid", "msexchmailboxguid", "msexcharchiveguid":
		return true
	}
	return false
}

// isInteger reports whether AD's schema gives the attribute an integer
// syntax.
func isInteger(name string) bool {
	switch strings.ToLower(name) {
	case "usnchanged", "usncreated", "msexchrecipienttypedetails", "msexchremoterecipienttype",
		"msexchrecipientdisplaytype", "useraccountcontrol", "instancetype":
		return true
	}
	return false
}
