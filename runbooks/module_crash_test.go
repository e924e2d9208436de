package runbooks_test

import (
	"bufio"
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
)

// TestKillInsideModule kills rebuilt-ad-hard-match's apply, a real child
// process, with SIGKILL the moment it reaches the writes inside its
// sync_off module (the runbooks/modules/sync-off module: directory sync
// off, the wait until each user is cloud-managed, the immutable IDs
// cleared), resumes it, and requires the end state of an uninterrupted
// run, object by object, and a journal that names the module's steps by
// their module addresses.
func TestKillInsideModule(t *testing.T) {
	const marker = "module.sync_off.step.entra_immutable_id.clear"
	c := caseNamed(t, "rebuilt-ad-hard-match")
	l, j := c.setup(t)
	if out, err := child(t, j).Wait(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want := l.dump()

	l, j = c.setup(t)
	cmd := childCmd(j)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	killed := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if !killed && strings.Contains(sc.Text(), marker) {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	if err := cmd.Wait(); err == nil || !killed {
		t.Fatalf("the child was not killed inside the module (killed %v, exit %v); its log:\n%s", killed, err, strings.Join(seen, "\n"))
	}

	rep, err := j.run(context.Background(), testLog{t})
	if err != nil || rep.Status != journal.StatusSucceeded {
		t.Fatalf("resume after the kill: %v %+v", err, rep)
	}
	sameEnd(t, want, l.dump())

	store, err := journal.Open(j.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sum, err := store.Summary(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range sum {
		steps = append(steps, s.Step)
	}
	for _, want := range []string{`module.sync_off.step.entra_dir_sync.off`, `module.sync_off.step.entra_user_state.cloud_managed`, marker, `module.takeover.step.assert.takeover_allowed`} {
		found := false
		for _, s := range steps {
			found = found || s == want
		}
		if !found {
			t.Errorf("the run's journal has no step %s: %v", want, steps)
		}
	}
}
