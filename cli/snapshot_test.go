package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/statediff"
	"github.com/rebind-dev/rebind/snapshot"
)

// unobservable are the attributes of a lab dump no public API shows, so a
// twin cannot have them from a snapshot (snapshot.Snapshot.NotRead):
var unobservable = map[string]string{
	// The cloud's copy of the on-premises Exchange attributes Connect
	// exported: Graph v1.0's user has no such property; the twin takes
	// the bound AD object's.
	"Entra ID onPremisesExchange": "not in Graph",
	// Directory roles: read with GET /directoryRoles?$expand=members,
	// which the lab does not serve; the snapshot does not read them.
	"Entra ID directoryRoles": "not read",
	// Duplicate attribute resiliency is on in every tenant since 2016
	// (how-to-connect-syncservice-duplicate-attribute-resiliency); the
	// scenarios of seeds 000, 001 and 003 turn it off to replay their
	// reports, which no API shows.
	"Tenant duplicateAttributeResiliencyDisabled": "not in any API",
}

// labDumpOf saves t as `rebind lab dump` prints it.
func labDumpOf(t *testing.T, tn *lab.Tenant) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tn.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// observableDiff returns the differences between two dumps that a snapshot
// could have seen, as "directory object: attribute" lines.
func observableDiff(t *testing.T, a, b []byte) []string {
	t.Helper()
	changes, err := statediff.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		if c.Kind != "changed" {
			out = append(out, c.Directory+" "+c.Object+" "+c.Kind)
			continue
		}
		for _, attr := range c.Attributes {
			name, _, _ := strings.Cut(attr, ":")
			if unobservable[c.Directory+" "+name] != "" {
				continue
			}
			out = append(out, c.Directory+" "+c.Object+" "+attr)
		}
	}
	return out
}

// planTuples plans runbook against the lab at url and returns each
// instance's address, action and object, with its before and after when
// full.
func planTuples(t *testing.T, url, runbook string, full bool, vars ...string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--lab", url, "--state-dir", filepath.Join(dir, "st"), "plan", runbook, "-out", filepath.Join(dir, "p.plan")}
	for _, v := range vars {
		args = append(args, "-var", v)
	}
	if code, out, errs := runMain(t, args...); code != 0 {
		t.Fatalf("plan %s: exit %d\n%s%s", runbook, code, out, errs)
	}
	code, out, errs := runMain(t, "--state-dir", filepath.Join(dir, "st"), "show", filepath.Join(dir, "p.plan"), "--format", "json")
	if code != 0 {
		t.Fatalf("show: exit %d\n%s", code, errs)
	}
	var p struct {
		Steps []struct {
			Instances []struct {
				Address, Action, Object string
				Before                  any `json:"before"`
				After                   any `json:"after"`
			} `json:"instances"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	var tuples []string
	for _, s := range p.Steps {
		for _, i := range s.Instances {
			line := i.Address + " " + i.Action + " " + i.Object
			if full {
				b, _ := json.Marshal(i.Before)
				a, _ := json.Marshal(i.After)
				line += " " + string(b) + " -> " + string(a)
			}
			tuples = append(tuples, line)
		}
	}
	return tuples, out
}

// TestSnapshotRoundTrip takes a snapshot of each seed's lab scenario over
// its public endpoints only (Graph, the Exchange admin API, LDAP; the
// control API is not used), loads it as a lab, and checks that the twin's
// dump equals the original's apart from what no public API shows
// (unobservable), and that the scenario's runbook plans the same changes
// against the twin as against the original. Ids are equal too: the twin
// keeps the ids the APIs show.
func TestSnapshotRoundTrip(t *testing.T) {
	cases := []struct {
		scenario, runbook string
		vars              []string
	}{
		{"restore-mistake", "restore-mistake", []string{"upn=nicki@contoso.com", "soft_match_blocked=no"}},
		{"restore-mistake-dar", "", nil},
		{"rebuilt-ad", "rebuilt-ad-hard-match", nil},
		{"archive-guid-mismatch", "archive-guid-mismatch", []string{"upn=arch2@contoso.com"}},
		{"exchange-guid-in-use", "exchange-guid-in-use", []string{"upn=erin@contoso.com"}},
		{"offboard-relink", "offboard-relink", nil},
		{"healthy", "", nil},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			in := scenarioLab(t, c.scenario)
			orig := labDumpOf(t, in.Tenant)
			file := filepath.Join(t.TempDir(), "snap.json")
			if code, out, errs := runMain(t, "--lab", in.URL, "--state-dir", t.TempDir(), "snapshot", "-o", file); code != 0 {
				t.Fatalf("snapshot: exit %d\n%s%s", code, out, errs)
			}
			if after := labDumpOf(t, in.Tenant); !bytes.Equal(orig, after) {
				t.Fatalf("taking a snapshot changed the tenant: %v", observableDiff(t, orig, after))
			}
			s, err := snapshot.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			twin, err := lab.FromSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			if d := observableDiff(t, orig, labDumpOf(t, twin)); len(d) > 0 {
				t.Errorf("the twin differs from the original in what the public APIs show:\n  %s", strings.Join(d, "\n  "))
			}
			if c.runbook == "" {
				return
			}
			vars := c.vars
			if vars == nil {
				reh, err := readRehearsal(c.runbook)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range reh.Vars {
					vars = append(vars, k+"="+v)
				}
				sort.Strings(vars)
			}
			want, _ := planTuples(t, in.URL, c.runbook, true, vars...)
			tw := labInstance(t, instance.Options{Snapshot: file})
			got, _ := planTuples(t, tw.URL, c.runbook, true, vars...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the plan against the twin differs:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

// TestRedactedSnapshotPlansTheSameChanges redacts a snapshot with a key and
// plans restore-mistake against its twin with the pseudonym of the user's
// UPN: the same steps change the same objects (by id), and neither the
// snapshot nor the plan holds the user's name.
func TestRedactedSnapshotPlansTheSameChanges(t *testing.T) {
	in := scenarioLab(t, "restore-mistake")
	file := filepath.Join(t.TempDir(), "snap.json")
	if code, out, errs := runMain(t, "--lab", in.URL, "--state-dir", t.TempDir(), "snapshot", "-o", file, "--redact", "--redact-key", "k3y"); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nicki", "contoso", "corp,"} {
		if bytes.Contains(bytes.ToLower(b), []byte(name)) {
			t.Errorf("the redacted snapshot still holds %q", name)
		}
	}
	r := snapshot.NewRedactor([]byte("k3y"))
	pseudo := r.Address("nicki@contoso.com")
	// The same name is the same pseudonym in Entra ID, Exchange and AD.
	s, err := snapshot.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range s.Users {
		if u.UserPrincipalName == pseudo {
			seen["entra"] = true
		}
	}
	for _, x := range s.Recipients {
		if x.PrimarySMTPAddress == pseudo {
			seen["exchange"] = true
		}
	}
	for _, a := range s.AD.Users {
		if a.UserPrincipalName == pseudo && a.CN == r.Name("nicki") {
			seen["ad"] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("%s is not the pseudonym of nicki@contoso.com in every directory: %v", pseudo, seen)
	}
	want, _ := planTuples(t, in.URL, "restore-mistake", false, "upn=nicki@contoso.com", "soft_match_blocked=no")
	tw := labInstance(t, instance.Options{Snapshot: file})
	got, plan := planTuples(t, tw.URL, "restore-mistake", false, "upn="+pseudo, "soft_match_blocked=no")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the plan against the redacted twin differs:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if strings.Contains(plan, "nicki") || !strings.Contains(plan, pseudo) {
		t.Errorf("the redacted plan should name %s and never nicki", pseudo)
	}
}

// TestLabServeSnapshot serves a snapshot's twin with `rebind lab serve
// --snapshot` and reads it back over Graph: the same users, on the
// snapshot's clock.
func TestLabServeSnapshot(t *testing.T) {
	in := scenarioLab(t, "restore-mistake")
	file := filepath.Join(t.TempDir(), "snap.json")
	code, _, errs := runMain(t, "--lab", in.URL, "--state-dir", t.TempDir(), "snapshot", "-o", file)
	in.Close()
	if code != 0 {
		t.Fatal(errs)
	}
	ready := make(chan *instance.Instance, 1)
	stop := make(chan struct{})
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- runLabServe(&labServeOptions{IO: &IO{Out: &out, Err: &errb}, Snapshot: file, Listen: "127.0.0.1:0",
			LDAPListen: "127.0.0.1:0", ready: func(i *instance.Instance) { ready <- i }, stop: stop})
	}()
	var tw *instance.Instance
	select {
	case tw = <-ready:
	case err := <-done:
		t.Fatalf("lab serve --snapshot: %v\n%s", err, errb.String())
	}
	second := filepath.Join(t.TempDir(), "again.json")
	code, _, errs = runMain(t, "--lab", tw.URL, "--state-dir", t.TempDir(), "snapshot", "-o", second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatal(errs)
	}
	a, err := snapshot.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	a.Reads, b.Reads = nil, nil
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("a snapshot of the twin differs from the snapshot it was served from:\n%s\n%s", ja, jb)
	}
	if !strings.Contains(errb.String(), "twin of the tenant snapshot") {
		t.Errorf("lab serve does not say it serves a twin:\n%s", errb.String())
	}
}
