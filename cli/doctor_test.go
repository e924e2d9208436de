package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/steps"
)

// TestDoctorAgainstLab runs doctor for a bundled runbook against a lab
// tenant: every target is reached over TLS verified with the lab's CA and
// signed in to, and the permissions are read from the lab's tokens. The
// default lab app holds every application permission the runbook needs;
// the delegated-only read of the soft-match switch is a warning under its
// app-only token (the runbook then asks for the admin's reading). A
// restricted token fails, naming what is missing, with exit 1.
func TestDoctorAgainstLab(t *testing.T) {
	in := scenarioLab(t, "restore-mistake")
	code, out, errs := runMain(t, "--lab", in.URL, "doctor", "restore-mistake")
	if code != 0 {
		t.Fatalf("doctor against the lab: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"✓  entra.tenant", "✓  ad.corp", "✓  adsync.connect", "bind", "driver lab answered"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	states := func(args ...string) (int, map[string]doctorCheckState) {
		t.Helper()
		code, out, _ := runMain(t, append([]string{"--lab", in.URL, "doctor", "restore-mistake", "--json"}, args...)...)
		var rep doctorReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Runbook != "restore-mistake" {
			t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
		}
		m := map[string]doctorCheckState{}
		for _, c := range rep.Checks {
			m[c.Target+" "+c.Name] = doctorCheckState{c.State, c.Fix}
		}
		return code, m
	}
	code, m := states()
	if code != 0 {
		t.Fatalf("--json: exit %d: %v", code, m)
	}
	for name, want := range map[string]steps.CheckState{
		"entra.tenant Graph User.ReadWrite.All":                      steps.CheckOK,
		"entra.tenant Graph OnPremDirectorySynchronization.Read.All": steps.CheckWarning,
		"ad.corp TLS certificate":                                    steps.CheckOK,
	} {
		if m[name].state != want {
			t.Errorf("%s: %q, want %q (all: %v)", name, m[name].state, want, m)
		}
	}

	// A signed-in helpdesk user with read access only.
	tok, err := control.New(in.URL, in.Client()).DelegatedToken(context.Background(),
		control.DelegatedTokenRequest{User: "helpdesk@contoso.com", Scp: "User.Read.All", Resource: "graph"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("REBIND_LAB_TOKEN", tok)
	code, m = states()
	if code != 1 {
		t.Errorf("a read-only token: exit %d, want 1", code)
	}
	if c := m["entra.tenant Graph User.ReadWrite.All"]; c.state != steps.CheckFailed || !strings.Contains(c.fix, "User.ReadWrite.All") {
		t.Errorf("User.ReadWrite.All under a read-only token: %+v", c)
	}
	if c := m["entra.tenant Graph User.Read.All"]; c.state != steps.CheckOK {
		t.Errorf("User.Read.All under a read-only token: %+v", c)
	}
}

type doctorCheckState struct {
	state steps.CheckState
	fix   string
}

// TestDoctorFailsAndExits1 checks an environment whose DC is not there and
// whose Connect status command fails: each ✗ has a fix line, and the exit
// code is 1.
func TestDoctorFailsAndExits1(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "broken.hcl")
	src := `target "ad" "corp" {
  url     = "ldaps://127.0.0.1:1"
  base_dn = "DC=corp,DC=example,DC=com"
}
target "adsync" "connect" {
  driver         = "command"
  command        = ["true"]
  status_command = ["false"]
}
`
	if err := os.WriteFile(env, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REBIND_AD_BIND_DN", "svc-rebind@corp.example.com")
	t.Setenv("REBIND_AD_PASSWORD", "x")
	code, out, errs := runMain(t, "--env", env, "doctor")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	lines := strings.Split(out, "\n")
	fixes := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "✗") {
			if i+1 >= len(lines) || !strings.Contains(lines[i+1], "fix: ") {
				t.Errorf("a ✗ without a fix line:\n%s", out)
			}
			fixes++
		}
	}
	if fixes != 2 || !strings.Contains(out, "✗  ad.corp") || !strings.Contains(out, "✗  adsync.connect") {
		t.Errorf("want a ✗ for each target:\n%s", out)
	}
	if code, _, errs := runMain(t, "doctor"); code != 2 || !strings.Contains(errs, "--env FILE") {
		t.Errorf("doctor without an environment: exit %d %s", code, errs)
	}
}

// TestDoctorWarnsOnce: doctor validates the runbook against the
// environment and then resolves its targets; a warning of the environment
// (a target the runbook does not use) is printed once, not once per pass.
func TestDoctorWarnsOnce(t *testing.T) {
	env := filepath.Join(t.TempDir(), "spare.hcl")
	src := `target "ad" "corp" {
  url     = "ldaps://127.0.0.1:1"
  base_dn = "DC=corp,DC=example,DC=com"
}
target "exo" "spare" {
  organization = "contoso.onmicrosoft.com"
}
`
	if err := os.WriteFile(env, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REBIND_AD_BIND_DN", "svc-rebind@corp.example.com")
	t.Setenv("REBIND_AD_PASSWORD", "x")
	rb := filepath.Join(t.TempDir(), "reads.hcl")
	if err := os.WriteFile(rb, []byte(`runbook "reads" {}
variable "upn" {}
target "ad" "corp" {}
data "ad_user" "u" {
  target = target.ad.corp
  upn    = var.upn
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runMain(t, "--env", env, "doctor", rb)
	if code != 1 || !strings.Contains(out, "✗  ad.corp") {
		t.Fatalf("exit %d, want 1 with the DC unreachable\n%s%s", code, out, errs)
	}
	if n := strings.Count(errs, "Target not used"); n != 1 {
		t.Errorf("the unused target is warned of %d times, want once:\n%s", n, errs)
	}
}
