package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestBinDirOffPath: on a fresh Debian machine Debian's postgresql package
// puts initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, not on PATH
// (scripts/test.sh installs it); binDir must find them there. A directory
// on PATH holding an initdb but no pg_ctl beside it is passed over: the
// cluster needs both from one installation.
func TestBinDirOffPath(t *testing.T) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		unavailable(t, fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb (Debian's postgresql package is not installed)"))
	}
	lone := t.TempDir()
	if err := os.WriteFile(filepath.Join(lone, "initdb"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", lone)
	got, err := binDir()
	if err != nil {
		t.Fatalf("binDir with PATH=%s: %v", lone, err)
	}
	if !strings.HasPrefix(got, "/usr/lib/postgresql/") || filepath.Base(got) != "bin" {
		t.Fatalf("binDir with PATH=%s = %s, want /usr/lib/postgresql/<version>/bin", lone, got)
	}
	for _, prog := range []string{"initdb", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(got, prog)); err != nil {
			t.Errorf("%s in %s: %v", prog, got, err)
		}
	}
}

// recorder is a testing.TB that records a skip or a failure and, as the
// real ones do, ends the goroutine that called it (see call).
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, a ...any) {
	r.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// call runs f with a recorder on a goroutine of its own.
func call(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// TestUnavailableFailsInCI: without PostgreSQL a test skips with the
// reason, but in CI (CI=true) it fails, so CI cannot pass by skipping.
func TestUnavailableFailsInCI(t *testing.T) {
	why := fmt.Errorf("initdb not found")
	t.Setenv("CI", "true")
	r := call(t, func(tb testing.TB) { unavailable(tb, why) })
	if r.failed == "" || r.skipped != "" || !strings.Contains(r.failed, "initdb not found") {
		t.Errorf("CI=true: failed %q, skipped %q; want a failure giving the reason", r.failed, r.skipped)
	}
	t.Setenv("CI", "")
	r = call(t, func(tb testing.TB) { unavailable(tb, why) })
	if r.skipped == "" || r.failed != "" || !strings.Contains(r.skipped, "initdb not found") {
		t.Errorf("outside CI: failed %q, skipped %q; want a skip giving the reason", r.failed, r.skipped)
	}
}

// TestServerRunsAsNonRoot: PostgreSQL refuses to run as root, and CI runs
// as root; the cluster's server must then run as another user (Debian's
// postgres, made by postgresql-common). Its postmaster's process is
// looked up by the pid it writes in postmaster.pid.
func TestServerRunsAsNonRoot(t *testing.T) {
	c := Start(t)
	pidfile, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.SplitN(string(pidfile), "\n", 2)[0]
	fi, err := os.Stat("/proc/" + pid)
	if err != nil {
		t.Fatalf("the server's process %s: %v", pid, err)
	}
	uid := fi.Sys().(*syscall.Stat_t).Uid
	if uid == 0 {
		t.Fatalf("the server (process %s) runs as root", pid)
	}
	if os.Geteuid() != 0 && int(uid) != os.Geteuid() {
		t.Errorf("the server runs as uid %d, the test as %d", uid, os.Geteuid())
	}
	t.Logf("test as uid %d, server (process %s) as uid %d", os.Geteuid(), pid, uid)
}
