package cli

import (
	"strings"
	"testing"
)

// TestRunbooksListsEachOnOneLine: `rebind runbooks` shows every bundled
// runbook on one line, its title starting in the same column whatever the
// length of the longest name.
func TestRunbooksListsEachOnOneLine(t *testing.T) {
	out, err := runRebind(t, t.TempDir(), "runbooks")
	if err != nil {
		t.Fatalf("runbooks: %v\n%s", err, out)
	}
	names := bundled()
	if len(names) < 6 {
		t.Fatalf("%d bundled runbooks: %v", len(names), names)
	}
	lines := strings.Split(out, "\n")
	col := -1
	for i, n := range names {
		rb, diags := loadRunbook(n)
		if diags.HasErrors() || rb.Meta == nil || rb.Meta.Title == "" {
			t.Fatalf("%s has no title: %v", n, diags)
		}
		if i >= len(lines) || !strings.HasPrefix(lines[i], n+" ") || !strings.HasSuffix(lines[i], rb.Meta.Title) {
			t.Fatalf("line %d is %q, want %s and its title", i+1, lines[i], n)
		}
		at := strings.Index(lines[i], rb.Meta.Title)
		if col >= 0 && at != col {
			t.Errorf("%s's title starts at column %d, the others at %d:\n%s", n, at, col, out)
		}
		col = at
	}
}
