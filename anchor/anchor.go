// Package anchor converts between the three spellings of a directory object's
// identity that hybrid identity work mixes up: the GUID string
// ("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"), the 16 bytes Active Directory
// stores in objectGUID, mS-DS-ConsistencyGuid, msExchMailboxGuid and
// msExchArchiveGUID, and the base64 sourceAnchor Entra ID keeps as
// onPremisesImmutableId.
//
// Active Directory stores a GUID in the layout of .NET Guid.ToByteArray(): the
// first three fields little-endian, the last eight bytes as written. Encoding
// the RFC 4122 (big-endian) bytes instead is a common bug that yields an
// immutable ID no AD object will ever match, so every conversion here goes
// through that one layout.
package anchor

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every conversion error.
var ErrInvalid = errors.New("anchor: invalid value")

// GUID is a GUID in its canonical form, kept as the 16 RFC 4122 (big-endian)
// bytes so that String is a plain hex print.
type GUID [16]byte

// ParseGUID reads "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873", with or without
// braces, in any case.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimSuffix(t, "}"), "{")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return g, fmt.Errorf("%w: %q is not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", ErrInvalid, s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return GUID{}, fmt.Errorf("%w: %q is not a GUID: %v", ErrInvalid, s, err)
	}
	return g, nil
}

// String returns the lower-case canonical form.
func (g GUID) String() string {
	h := hex.EncodeToString(g[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsZero reports whether g is the nil GUID.
func (g GUID) IsZero() bool { return g == GUID{} }

// Bytes returns the 16 bytes as Active Directory stores them (the layout of
// .NET Guid.ToByteArray()).
func (g GUID) Bytes() []byte {
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = g[3], g[2], g[1], g[0]
	b[4], b[5] = g[5], g[4]
	b[6], b[7] = g[7], g[6]
	copy(b[8:], g[8:])
	return b
}

// FromBytes reads 16 bytes in Active Directory's layout.
func FromBytes(b []byte) (GUID, error) {
	var g GUID
	if len(b) != 16 {
		return g, fmt.Errorf("%w: a GUID is 16 bytes, got %d", ErrInvalid, len(b))
	}
	g[0], g[1], g[2], g[3] = b[3], b[2], b[1], b[0]
	g[4], g[5] = b[5], b[4]
	g[6], g[7] = b[7], b[6]
	copy(g[8:], b[8:])
	return g, nil
}

// ImmutableID returns the sourceAnchor Entra Connect derives from this GUID:
// base64 of its bytes in Active Directory's layout.
func (g GUID) ImmutableID() string {
	return base64.StdEncoding.EncodeToString(g.Bytes())
}

// FromImmutableID decodes an onPremisesImmutableId back to the GUID of the AD
// object it anchors. It fails on anything that is not base64 of 16 bytes (an
// immutable ID set by hand to, say, an employee number).
func FromImmutableID(id string) (GUID, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(id))
	if err != nil {
		return GUID{}, fmt.Errorf("%w: immutable ID %q is not base64: %v", ErrInvalid, id, err)
	}
	if len(b) != 16 {
		return GUID{}, fmt.Errorf("%w: immutable ID %q decodes to %d bytes, not the 16 of a GUID", ErrInvalid, id, len(b))
	}
	return FromBytes(b)
}

// ImmutableIDFromGUID is ParseGUID followed by ImmutableID.
func ImmutableIDFromGUID(s string) (string, error) {
	g, err := ParseGUID(s)
	if err != nil {
		return "", err
	}
	return g.ImmutableID(), nil
}

// EscapeFilter returns the bytes of g in AD's layout escaped for an LDAP
// filter, e.g. `\1e\bc\ff...`, for `(objectGUID=...)`.
func (g GUID) EscapeFilter() string {
	var sb strings.Builder
	for _, c := range g.Bytes() {
		fmt.Fprintf(&sb, "\\%02x", c)
	}
	return sb.String()
}
