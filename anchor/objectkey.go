package anchor

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ObjectKey names a directory object in plans, locks and the journal by
// a name that may be personal data (a UPN, an address, a filter): a GUID
// stays as it is (lower case), anything else becomes a digest of its
// lower-cased form, so that those names carry no PII while the same name,
// in any case, still gives the same lock.
func ObjectKey(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if _, err := ParseGUID(name); err == nil {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
