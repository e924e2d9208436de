package core

import (
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/steps"
)

// TestRelativePathDocsSayWhereTheyResolve checks what `rebind steps TYPE`
// tells an operator against what resolvePath does: a relative path in a
// step argument resolves against the directory the run was started in
// (kept in the journal, so resume and rollback use the same one), not the
// runbook's folder, which only file() and fileexists() read from.
func TestRelativePathDocsSayWhereTheyResolve(t *testing.T) {
	for _, typ := range []steps.Type{File{}, Export{}, Exec{}} {
		info := typ.Info()
		for name, arg := range info.Schema {
			if !strings.Contains(arg.Doc, "relative") {
				continue
			}
			if !strings.Contains(arg.Doc, "the directory the run was started in") || strings.Contains(arg.Doc, "runbook's") {
				t.Errorf("%s %s: %q", info.Name, name, arg.Doc)
			}
		}
	}
}
