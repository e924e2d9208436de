package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/internal/e2e"
	"github.com/rebind-dev/rebind/lab/control"
)

// labClient is an HTTP client that verifies the lab at u.
func labClient(t *testing.T, u string) *http.Client {
	t.Helper()
	c, err := control.Client(u, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startLab runs `rebind lab serve` as a child process and returns its URL.
func startLab(t *testing.T, dir string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	ca := filepath.Join(dir, labCAFile)
	cmd := rebindCmd(t, dir, append([]string{"lab", "serve", "--ca-file", ca}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	u, ok := e2e.FirstLine(out, 20*time.Second)
	if !ok {
		t.Fatal("lab serve did not print its URL")
	}
	if !strings.HasPrefix(u, "https://127.0.0.1:") {
		t.Fatalf("lab serve printed %q, want its URL", u)
	}
	// The CA is written before the URL is printed; this process verifies
	// the lab with it, as the rebind processes it starts do through
	// REBIND_LAB_CA (rebindCmd).
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	control.Trust(u, pem)
	return u, cmd
}

// labCAFile is where startLab has `lab serve` write its CA, in the
// test's folder.
const labCAFile = "lab-ca.pem"

func labGet(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := labClient(t, u).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestLabServeKeepsStateAcrossRestarts drives the lab as an admin would:
// serve with a state file, change the tenant through the CLI, stop the
// lab, serve again from the same file, and find the change still there.
func TestLabServeKeepsStateAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "lab.json")
	u, cmd := startLab(t, dir, "--scenario", "restore-mistake", "--state", state)

	var clock struct {
		Now time.Time `json:"now"`
	}
	labGet(t, u+"/lab/clock", &clock)
	start := clock.Now
	if out, err := runRebind(t, dir, "--lab", u, "lab", "clock", "--advance", "72h"); err != nil {
		t.Fatalf("lab clock: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "--lab", u, "lab", "sync", "--policy", "Initial"); err != nil {
		t.Fatalf("lab sync: %v\n%s", err, out)
	}
	out, err := runRebind(t, dir, "--lab", u, "lab", "dump")
	if err != nil || !strings.Contains(out, "nicki@contoso.com") {
		t.Fatalf("lab dump: %v\n%.300s", err, out)
	}
	// A clean stop (SIGTERM) saves the state.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	u2, _ := startLab(t, dir, "--state", state)
	labGet(t, u2+"/lab/clock", &clock)
	if got := clock.Now.Sub(start); got != 72*time.Hour {
		t.Fatalf("after a restart the clock moved %s from the scenario's start, want 72h", got)
	}
	var ep struct {
		LDAP       string `json:"ldap"`
		LDAPBindDN string `json:"ldap_bind_dn"`
	}
	labGet(t, u2+"/lab/endpoints", &ep)
	if !strings.HasPrefix(ep.LDAP, "ldap://127.0.0.1:") || ep.LDAPBindDN == "" {
		t.Fatalf("endpoints name LDAP at %q, bind DN %q", ep.LDAP, ep.LDAPBindDN)
	}
}

func TestLabRefusesNonLoopbackAndNeedsAScenario(t *testing.T) {
	dir := t.TempDir()
	if out, err := runRebind(t, dir, "lab", "serve", "--scenario", "healthy", "--listen", "0.0.0.0:0"); err == nil || !strings.Contains(out, "loopback") {
		t.Fatalf("serving on 0.0.0.0: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "lab", "serve"); err == nil || !strings.Contains(out, "--scenario") {
		t.Fatalf("serve without a scenario: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "lab", "serve", "--scenario", "no-such"); err == nil || !strings.Contains(out, "no-such") {
		t.Fatalf("serve with an unknown scenario: %v\n%s", err, out)
	}
	if out, err := runRebind(t, dir, "lab", "sync"); err == nil || !strings.Contains(out, "--lab") {
		t.Fatalf("lab sync without --lab: %v\n%s", err, out)
	}
}
