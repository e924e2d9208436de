package lang

import (
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/zclconf/go-cty/cty"
)

// FuzzAnchorFunctions calls immutable_id and guid on arbitrary strings: they
// must never panic, must fail exactly when package anchor refuses the
// input, and must round trip when it accepts it.
func FuzzAnchorFunctions(f *testing.F) {
	for _, seed := range []string{
		"1effbc1e-4aa3-4f9d-a508-d4d81f1f5873", "{35918BC9-196D-40EA-9779-889D79B753F0}",
		"zxfO6vF1mEG6ZufFSlzl0g==", "Hrz/HqNKnU+lCNTYHx9Ycw==", "", "EMP-1234", "====",
		"1effbc1e-4aa3-4f9d-a508-d4d81f1f587g",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := ImmutableIDFunc.Call([]cty.Value{cty.StringVal(in)})
		if _, perr := anchor.ParseGUID(in); (err == nil) != (perr == nil) {
			t.Fatalf("immutable_id(%q) error %v, but anchor says %v", in, err, perr)
		}
		if err == nil {
			g, err := GUIDFunc.Call([]cty.Value{id})
			if err != nil {
				t.Fatalf("guid(immutable_id(%q)) failed: %v", in, err)
			}
			want := strings.ToLower(strings.TrimSpace(in))
			want = strings.TrimSuffix(strings.TrimPrefix(want, "{"), "}")
			if g.AsString() != want {
				t.Fatalf("guid(immutable_id(%q)) = %q", in, g.AsString())
			}
		}

		g, err := GUIDFunc.Call([]cty.Value{cty.StringVal(in)})
		if _, perr := anchor.FromImmutableID(in); (err == nil) != (perr == nil) {
			t.Fatalf("guid(%q) error %v, but anchor says %v", in, err, perr)
		}
		if err == nil {
			back, err := ImmutableIDFunc.Call([]cty.Value{g})
			if err != nil {
				t.Fatalf("immutable_id(guid(%q)) failed: %v", in, err)
			}
			// Base64 with non-zero padding bits decodes too; compare bytes.
			a, _ := anchor.FromImmutableID(back.AsString())
			b, _ := anchor.FromImmutableID(in)
			if a != b {
				t.Fatalf("immutable_id(guid(%q)) = %q, a different GUID", in, back.AsString())
			}
		}
	})
}
