// Package ldapraw writes LDAP messages byte by byte: BER with definite
// lengths (ITU-T X.690) in the shapes of RFC 4511's LDAPMessage, for the
// tests that send what no well-behaved client library sends (the LDAP
// server's abuse tests in lab/ldapserver and the attack suite in
// adversarial/). Only test files import it; it imports nothing of rebind,
// so what it writes is not the lab server's own encoding read back.
package ldapraw

import "bytes"

// TLV encodes one element: tag, definite length, then the contents.
func TLV(tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	out := append([]byte{tag}, Length(n)...)
	for _, c := range contents {
		out = append(out, c...)
	}
	return out
}

// Length encodes a definite length (X.690 8.1.3): one octet below 128,
// else 0x80 plus the count of the big-endian octets that follow.
func Length(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 1<<8:
		return []byte{0x81, byte(n)}
	case n < 1<<16:
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
	return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// Octets is an OCTET STRING (an LDAPString or LDAPDN among them).
func Octets(s string) []byte { return TLV(0x04, []byte(s)) }

// Message wraps a protocol operation, and controls when given, in an
// LDAPMessage with messageID id (RFC 4511 4.1.1).
func Message(id int, op []byte, controls ...[]byte) []byte {
	parts := [][]byte{TLV(0x02, []byte{byte(id >> 8), byte(id)}), op}
	if len(controls) > 0 {
		parts = append(parts, TLV(0xa0, controls...))
	}
	return TLV(0x30, parts...)
}

// BindRequest is a version 3 simple bind (RFC 4511 4.2).
func BindRequest(name, password string) []byte {
	return TLV(0x60, TLV(0x02, []byte{3}), Octets(name), TLV(0x80, []byte(password)))
}

// SearchRequest searches base's whole subtree, never dereferencing
// aliases, without size or time limits, with a filter already encoded,
// asking for attrs (RFC 4511 4.5.1).
func SearchRequest(base string, filter []byte, attrs ...string) []byte {
	var al [][]byte
	for _, a := range attrs {
		al = append(al, Octets(a))
	}
	return TLV(0x63, Octets(base), TLV(0x0a, []byte{2}), TLV(0x0a, []byte{0}), TLV(0x02, []byte{0}), TLV(0x02, []byte{0}),
		TLV(0x01, []byte{0}), filter, TLV(0x30, al...))
}

// Present is the filter (attr=*).
func Present(attr string) []byte { return TLV(0x87, []byte(attr)) }

// NestedFilter is (objectClass=*) inside depth and, or and not filters in
// turn, laid out from the outside in so that it costs linear time however
// deep.
func NestedFilter(depth int) []byte {
	inner := Present("objectClass")
	lengths := make([]int, depth+1)
	lengths[depth] = len(inner)
	tags := []byte{0xa0, 0xa1, 0xa2} // and, or, not
	for i := depth - 1; i >= 0; i-- {
		lengths[i] = 1 + len(Length(lengths[i+1])) + lengths[i+1]
	}
	var out bytes.Buffer
	for i := 0; i < depth; i++ {
		out.WriteByte(tags[i%3])
		out.Write(Length(lengths[i+1]))
	}
	out.Write(inner)
	return out.Bytes()
}
