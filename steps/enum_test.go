package steps

import "testing"

// Plans and the journal name kinds and reversibilities by these strings;
// a value out of range names its type and number.
func TestEnumNames(t *testing.T) {
	for _, c := range []struct {
		got  string
		want string
	}{
		{KindData.String(), "data"},
		{KindEnsure.String(), "ensure"},
		{KindAction.String(), "action"},
		{Kind(0).String(), "Kind(0)"},
		{Kind(4).String(), "Kind(4)"},
		{Reversible.String(), "reversible"},
		{Compensable.String(), "compensable"},
		{Irreversible.String(), "irreversible"},
		{Reversibility(-1).String(), "Reversibility(-1)"},
		{Reversibility(4).String(), "Reversibility(4)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
