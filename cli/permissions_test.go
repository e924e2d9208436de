package cli

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
)

// permissionsJSON is what `rebind permissions NAME --json` prints.
func permissionsJSON(t *testing.T, name string) permissionsView {
	t.Helper()
	code, out, errs := runMain(t, "permissions", name, "--json")
	if code != 0 {
		t.Fatalf("permissions %s --json: exit %d: %s", name, code, errs)
	}
	var v permissionsView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

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
		v := permissionsJSON(t, name)
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
			t.Errorf("%s: listed %v, declared %v", name, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
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

// A permission whose call's page accepts a higher privileged one the
// runbook needs anyway is marked covered by it: retryServiceProvisioning's
// User.ManageIdentities.All beside an update's User.ReadWrite.All
// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning#permissions).
func TestPermissionsCoveredByAHigherPrivilegedOne(t *testing.T) {
	rb := filepath.Join(t.TempDir(), "both.hcl")
	mustWrite(t, rb, `runbook "both" {}
target "entra" "tenant" {}
step "entra_immutable_id" "clear" {
  target       = target.entra.tenant
  upn          = "a@contoso.com"
  immutable_id = null
}
step "entra_user_reprovision" "again" {
  target = target.entra.tenant
  upn    = "a@contoso.com"
}
`)
	code, out, errs := runMain(t, "permissions", rb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "- [ ] User.ManageIdentities.All (or a higher privileged one: User.EnableDisableAccount.All, User.ReadWrite.All, Directory.ReadWrite.All); covered by User.ReadWrite.All") {
		t.Errorf("User.ManageIdentities.All is not covered by User.ReadWrite.All:\n%s", out)
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

// leastApp is a lab app registration holding the application permissions
// `rebind permissions NAME` lists for the lab's targets: the Graph
// application permissions (their least privileged names, none for another
// adsync driver) and Exchange.ManageAsApp. The lab answers a call whose
// token lacks the permission the call's reference page lists 403, as
// Graph does (lab/labhttp/auth_http.go), so a runbook that rehearses under this app
// declares enough. Exchange RBAC roles and AD rights are not modelled by
// the lab's token checks and are not covered here.
func leastApp(t *testing.T, name string, drop string) lab.App {
	t.Helper()
	v := permissionsJSON(t, name)
	var roles []string
	for _, g := range v.Groups {
		for _, p := range g.Permissions {
			switch {
			case p.Name == drop || p.Driver() != "":
			case g.Key == "graph_application":
				roles = append(roles, p.Name)
			case g.Key == "exchange" && strings.HasSuffix(p.Name, "Exchange.ManageAsApp"):
				roles = append(roles, "Exchange.ManageAsApp")
			}
		}
	}
	return lab.App{Name: "least privileged", ClientID: "5d1c7a0e-3b2f-4e8a-9c6d-1f0e2d3c4b5a", Secret: "least-secret", Roles: roles}
}

func rehearseAs(t *testing.T, name string, app lab.App) (string, error) {
	t.Helper()
	t.Setenv(control.EnvLabClientID, app.ClientID)
	t.Setenv(control.EnvLabClientSecret, app.Secret)
	var out, errb bytes.Buffer
	opts := &rehearseOptions{IO: &IO{In: strings.NewReader(""), Out: &out, Err: &errb},
		G: &Globals{StateDir: t.TempDir()}, Runbook: name, labServer: labhttp.ServerOptions{Apps: []lab.App{app}}}
	err := runRehearse(opts)
	return out.String() + errb.String(), err
}

// TestListedPermissionsSufficeInTheLab rehearses every bundled runbook
// with an app registration that holds only what `rebind permissions` lists
// (Graph and Exchange app access), so a declaration that leaves out a
// permission a step's call needs fails here; and, as a control, restore-
// mistake without User.ReadWrite.All, which the lab refuses.
func TestListedPermissionsSufficeInTheLab(t *testing.T) {
	for _, name := range bundled() {
		t.Run(name, func(t *testing.T) {
			app := leastApp(t, name, "")
			out, err := rehearseAs(t, name, app)
			if err != nil || !strings.Contains(out, "Rehearsal succeeded: "+name) {
				t.Fatalf("rehearse %s as an app holding %v: %v\n%s", name, app.Roles, err, out)
			}
		})
	}
	app := leastApp(t, "restore-mistake", "User.ReadWrite.All")
	out, err := rehearseAs(t, "restore-mistake", app)
	if err == nil || strings.Contains(out, "Rehearsal succeeded") || !strings.Contains(out, "403") {
		t.Fatalf("restore-mistake without User.ReadWrite.All (%v): %v\n%s", app.Roles, err, out)
	}
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
