package anchor

import (
	"strings"
	"testing"
)

// TestObjectKey: a GUID names itself; a UPN or address becomes a digest
// that does not contain it, the same whatever its case or surrounding
// space, and different for a different name.
func TestObjectKey(t *testing.T) {
	const guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	if got := ObjectKey(" " + strings.ToUpper(guid) + " "); got != guid {
		t.Errorf("ObjectKey(GUID) = %q, want %q", got, guid)
	}
	a := ObjectKey("Alice@Contoso.com")
	if !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+16 || strings.Contains(strings.ToLower(a), "alice") {
		t.Errorf("ObjectKey(UPN) = %q, want sha256: and 16 hex digits, without the UPN", a)
	}
	if b := ObjectKey(" alice@contoso.com"); b != a {
		t.Errorf("case and space changed the key: %q != %q", b, a)
	}
	if c := ObjectKey("bob@contoso.com"); c == a {
		t.Errorf("two names gave one key %q", c)
	}
}
