package adversarial

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRelativePathsResolveWhereTheRunStarts is the careless operator's
// case: a runbook in another folder, run from here. Its relative paths
// resolve against the directory the run was started in, as `rebind steps`
// says, and the plan shows each resolved, so a reviewer sees which file a
// step writes and where a command runs.
func TestRelativePathsResolveWhereTheRunStarts(t *testing.T) {
	w := newWorkspace(t)
	w.write("sub/.keep", "")
	rb := filepath.Join("runbooks", "note.hcl")
	w.write(rb, `runbook "note" {
  title = "note"
}

step "file" "note" {
  path    = "out/note.txt"
  content = "x"
}

step "exec" "list" {
  command = ["true"]
  dir     = "sub"
}
`)
	r := w.run("plan", rb)
	mustSucceed(t, r)
	for _, want := range []string{
		"file:" + filepath.Join(w.Dir, "out", "note.txt"),
		`dir = "` + filepath.Join(w.Dir, "sub") + `"`,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan does not show %s:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, filepath.Join(w.Dir, "runbooks", "out")) {
		t.Errorf("the plan resolves against the runbook's folder:\n%s", r.Stdout)
	}
	for _, typ := range []string{"file", "export", "exec"} {
		r := w.run("steps", typ)
		mustSucceed(t, r)
		if strings.Contains(r.Stdout, "runbook's") || !strings.Contains(r.Stdout, "the directory the run was started in") {
			t.Errorf("rebind steps %s says otherwise:\n%s", typ, r.Stdout)
		}
	}
}
