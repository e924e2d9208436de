package cli

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// `rebind permissions` lists exactly what the runbook's step types
// declare: every declaration of every block's type once, nothing else.
func TestPermissionsFromDeclarations(t *testing.T) {
	for _, name := range bundled() {
		rb, diags := loadRunbook(name)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		want := map[string]bool{}
		for _, st := range blocksOf(rb) {
			typ, _ := steps.Lookup(st.Type)
			for _, p := range typ.Info().Permissions {
				want[p] = true
			}
		}
		code, out, errs := runMain(t, "permissions", name, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errs)
		}
		var v permissionsView
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, g := range v.Groups {
			for _, p := range g.Permissions {
				if got[p.String()] {
					t.Errorf("%s: %s listed twice", name, p)
				}
				got[p.String()] = true
				if len(p.NeededBy) == 0 {
					t.Errorf("%s: %s needed by nothing", name, p)
				}
			}
		}
		if !equalSets(got, want) {
			t.Errorf("%s: listed %v, declared %v", name, keys(got), keys(want))
		}
		_, text, _ := runMain(t, "permissions", name)
		for p := range want {
			if !strings.Contains(text, "- [ ] "+steps.ParsePermission(p).Name) {
				t.Errorf("%s: the checklist lacks %q:\n%s", name, p, text)
			}
		}
	}
}

func TestPermissionsGroupsAndDriver(t *testing.T) {
	_, out, _ := runMain(t, "permissions", "restore-mistake")
	for _, want := range []string{
		"Microsoft Graph: application permissions (admin consent)\n- [ ] Organization.Read.All",
		"- [ ] User.Read.All; covered by User.ReadWrite.All",
		"Microsoft Graph: delegated only",
		"- [ ] OnPremDirectorySynchronization.Read.All (delegated only",
		"Active Directory: rights of the bind account",
		"Entra Connect server",
		"Synchronization.ReadWrite.All (driver cloudsync)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("permissions output lacks %q:\n%s", want, out)
		}
	}
	// The sample environment runs sync cycles with driver command: the
	// Cloud Sync permission does not apply.
	env, _ := filepath.Abs("../examples/environments/prod.hcl")
	_, out, _ = runMain(t, "--env", env, "permissions", "restore-mistake")
	if strings.Contains(out, "Synchronization.ReadWrite.All") || !strings.Contains(out, "ADSyncOperators") {
		t.Errorf("with driver command:\n%s", out)
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// blocksOf is every data block and step of rb and of the modules it calls,
// as loaded: what their step types declare is what the runbook needs.
func blocksOf(rb *runbook.Runbook) []*runbook.Step {
	out := append(append([]*runbook.Step{}, rb.Data...), rb.Steps...)
	for _, m := range rb.Modules {
		out = append(out, blocksOf(m.Child)...)
	}
	return out
}
