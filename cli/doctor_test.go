package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rebind "github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/steps"
)

// TestDoctorAgainstLab runs doctor for a bundled runbook against a lab
// tenant: every target is reached and signed in to. The lab's tokens are
// not JWTs yet, so the Graph permissions read as not observable, never as
// granted.
func TestDoctorAgainstLab(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "restore-mistake", Scenarios: rebind.Scenarios})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	code, out, errs := runMain(t, "--lab", in.URL, "doctor", "restore-mistake")
	if code != 0 {
		t.Fatalf("doctor against the lab: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"✓  entra.tenant", "✓  ad.corp", "✓  adsync.connect", "bind", "runs sync cycles itself"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runMain(t, "--lab", in.URL, "doctor", "restore-mistake", "--json")
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || rep.Runbook != "restore-mistake" {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "Graph ") && c.State == steps.CheckOK {
			t.Errorf("a Graph permission passed on a token whose claims cannot be read: %+v", c)
		}
	}
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
