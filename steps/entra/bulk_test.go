package entra_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/entra"
)

// perInstance is a step type as it was before bulk observation: the
// registered type under another name, without ObserveMany, so that the
// engine observes each of its instances with its own request.
type perInstance struct {
	steps.Type
	name string
}

func (p perInstance) Info() steps.Info {
	i := p.Type.Info()
	i.Name = p.name
	return i
}

var registerPerInstance sync.Once

// singleTypes registers entra_immutable_id_single and
// entra_user_state_single.
func singleTypes(t testing.TB) {
	registerPerInstance.Do(func() {
		for _, name := range []string{"entra_immutable_id", "entra_user_state"} {
			typ, ok := steps.Lookup(name)
			if !ok {
				panic(name + " is not registered")
			}
			if _, ok := typ.(steps.BulkObserver); !ok {
				panic(name + " does not observe in bulk")
			}
			steps.Register(perInstance{Type: typ.(steps.Type), name: name + "_single"})
		}
	})
}

// bulkLab is a lab tenant served anonymously, whose Graph requests the
// tests count.
type bulkLab struct {
	tn  *lab.Tenant
	srv *labhttp.Server
	url string
}

func newBulkLab(t testing.TB, gens ...lab.Generator) *bulkLab {
	t.Helper()
	tn, err := lab.FromState(lab.State{Generate: gens})
	if err != nil {
		t.Fatal(err)
	}
	return serveBulkLab(t, tn)
}

// serveBulkLab serves tn over TLS, as runOnLab does.
func serveBulkLab(t testing.TB, tn *lab.Tenant) *bulkLab {
	t.Helper()
	s := labhttp.NewServer(tn, labhttp.ServerOptions{Anonymous: true, ReadUnits: 1 << 30, WriteUnits: 1 << 30})
	hs := entra.ServeTLS(t, s, s)
	return &bulkLab{tn: tn, srv: s, url: hs.URL}
}

func (l *bulkLab) requests() int64 {
	n, _ := l.srv.GraphRequests()
	return n
}

// engineOn is an engine bound to the lab, with its own journal.
func (l *bulkLab) engineOn(t testing.TB) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := journal.Open(filepath.Join(dir, ".rebind"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b, err := control.Bind(context.Background(), l.url, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &engine.Engine{Store: store, Lab: l.url, Bind: b.EnvironmentFor, Getenv: b.Getenv, WorkDir: dir,
		PollInterval: 10 * time.Millisecond}, dir
}

func (l *bulkLab) plan(t testing.TB, src string, vars map[string]string) (*engine.Engine, *plan.Plan, *runbook.Runbook) {
	t.Helper()
	e, dir := l.engineOn(t)
	rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := e.Plan(context.Background(), rb, engine.Inputs{Vars: vars}, engine.PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	return e, p, rb
}

// fanOut fans entra_immutable_id out over every user by UPN (clearing the
// immutable ID of the users whose UPN starts with var.clear, keeping the
// others'), and entra_user_state over every user by id. SUFFIX is "" or
// "_single".
const fanOut = `
runbook "bulk" {
  title = "Fan out over every user"
}

variable "clear" {
  type    = string
  default = "nobody"
}

target "entra" "tenant" {
  batch = BATCH
}

data "entra_users" "all" {
  target = target.entra.tenant
}

step "entra_immutable_id_SUFFIX" "by_upn" {
  target       = target.entra.tenant
  for_each     = data.entra_users.all.by_upn
  upn          = each.key
  immutable_id = startswith(each.key, var.clear) ? null : each.value.immutable_id
}

step "entra_user_state_SUFFIX" "by_id" {
  target       = target.entra.tenant
  for_each     = { for u in data.entra_users.all.users : u.id => u }
  id           = each.key
  sync_enabled = true
}
`

func fanOutSource(suffix string, batch bool) string {
	src := strings.ReplaceAll(fanOut, "_SUFFIX", suffix)
	return strings.Replace(src, "BATCH", fmt.Sprint(batch), 1)
}

// instances lists a plan's step instances by step type (without _single)
// and key, as text that holds everything a reviewer sees of them.
func instances(p *plan.Plan) map[string]string {
	out := map[string]string{}
	for _, s := range p.Steps {
		if s.Mode != "step" {
			continue
		}
		typ := strings.TrimSuffix(s.Type, "_single")
		s.All(func(in plan.Instance, unchanged bool) bool {
			notes := strings.ReplaceAll(strings.Join(in.Notes, "|"), "_single", "")
			out[typ+"["+in.Key+"]"] = fmt.Sprintf("unchanged=%v object=%s fp=%s action=%s before=%s after=%s observed=%s notes=%s",
				unchanged, in.Object, in.Fingerprint, in.Action, in.Before.String(), in.After.String(), p.ObservedValue(in).String(), notes)
			return true
		})
	}
	return out
}

// TestFanOutPlanObservesInBulk plans a fan-out over every user of a tenant
// of 400 (300 cloud-only, 100 synced), by UPN and by id, twice: with the
// step types' bulk observation, and with the same types observing each
// instance alone. The plans show the same changes; the bulk plan spends a
// handful of Graph requests where the other spends one per instance.
func TestFanOutPlanObservesInBulk(t *testing.T) {
	singleTypes(t)
	l := newBulkLab(t, lab.Generator{Count: 300, Name: "cu%05d", Kind: "cloud"}, lab.Generator{Count: 100, Name: "su%05d"})
	vars := map[string]string{"clear": "su0001"}
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			before := l.requests()
			_, single, _ := l.plan(t, fanOutSource("_single", batch), vars)
			singleReqs := l.requests() - before
			before = l.requests()
			_, bulk, _ := l.plan(t, fanOutSource("", batch), vars)
			bulkReqs := l.requests() - before

			want, got := instances(single), instances(bulk)
			if len(want) != 800 {
				t.Fatalf("the per-instance plan has %d instances, want 800", len(want))
			}
			actions := map[string]int{}
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("%s:\nbulk:         %s\nper instance: %s", k, got[k], w)
				}
				actions[w[strings.Index(w, "action="):strings.Index(w, " before=")]]++
			}
			if len(got) != len(want) {
				t.Fatalf("bulk plan: %d instances, per-instance plan %d", len(got), len(want))
			}
			// Users su00010-su00019 and su0001 lose their immutable ID,
			// the 300 cloud-only users are not synced: both plans show
			// updates as well as no-ops.
			if actions["action=update"] == 0 || actions["action=no-op"] == 0 {
				t.Fatalf("actions %v: the test wants both", actions)
			}
			// The listing behind data.entra_users is one request (400 users,
			// 999 a page); each fan-out of 400 costs 400 requests alone. In
			// bulk, each costs the $count and one listing page (cheaper than
			// 27 filters of 15), so 5 in all.
			if singleReqs < 800 {
				t.Fatalf("the per-instance plan spent %d requests, want at least 800", singleReqs)
			}
			if bulkReqs > 5 {
				t.Fatalf("the bulk plan spent %d Graph requests for 800 instances, want at most 5", bulkReqs)
			}
			t.Logf("800 instances: %d requests per instance, %d in bulk", singleReqs, bulkReqs)
		})
	}
}

// someUsers fans entra_immutable_id out over the users var.upns names, a
// small share of the tenant.
const someUsers = `
runbook "some" {
  title = "Fan out over some users"
}

variable "upns" {
  type = list(string)
}

target "entra" "tenant" {
  batch = BATCH
}

step "entra_immutable_id" "clear" {
  target       = target.entra.tenant
  for_each     = toset(var.upns)
  upn          = each.key
  immutable_id = null
}
`

// TestFanOutOverFewUsersFiltersInChunks: a fan-out over a small share of
// 2,000 users is read with `in` filters of at most 15 UPNs: 100 of them in
// 7 filters sent 20 to one $batch when the target batches; 30 in 2 filters
// sent one by one when it does not, after the $count that shows a listing
// (3 pages) would cost more; 100 unbatched by that listing, which costs
// less than 7 filters. A UPN no active user holds is observed on its own,
// and is reported as not found as without bulk observation.
func TestFanOutOverFewUsersFiltersInChunks(t *testing.T) {
	l := newBulkLab(t, lab.Generator{Count: 2000, Name: "cu%05d", Kind: "cloud"})
	for _, c := range []struct {
		batch bool
		users int
		want  int64
	}{{true, 100, 1}, {false, 30, 3}, {false, 100, 4}} {
		var upns []string
		for i := 0; i < c.users; i++ {
			upns = append(upns, fmt.Sprintf("cu%05d@contoso.com", i*20))
		}
		list := `["` + strings.Join(upns, `","`) + `"]`
		before := l.requests()
		_, p, _ := l.plan(t, strings.Replace(someUsers, "BATCH", fmt.Sprint(c.batch), 1), map[string]string{"upns": list})
		if n := l.requests() - before; n != c.want {
			t.Fatalf("batch=%v: %d Graph requests for %d instances, want %d", c.batch, n, c.users, c.want)
		}
		if got := p.Steps[0].Len(); got != c.users {
			t.Fatalf("%d instances", got)
		}
		p.Steps[0].All(func(in plan.Instance, _ bool) bool {
			if in.Action != "no-op" || !strings.HasPrefix(in.Object, "entra:user:") {
				t.Fatalf("%s: %s %s", in.Address, in.Action, in.Object)
			}
			return true
		})
	}

	e, dir := l.engineOn(t)
	rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(strings.Replace(someUsers, "BATCH", "true", 1))})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags = e.Plan(context.Background(), rb, engine.Inputs{Vars: map[string]string{"upns": `["cu00000@contoso.com","ghost@contoso.com"]`}}, engine.PlanOptions{})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `step.entra_immutable_id.clear["ghost@contoso.com"]`) ||
		!strings.Contains(diags.Error(), "ghost@contoso.com") {
		t.Fatalf("a UPN nobody holds: %v", diags)
	}
}

// TestApplyDriftCheckReobservesInBulk: apply re-observes a fan-out of 300
// the same way (in bulk, a few requests) and refuses when one user among
// them changed between plan and apply, naming that instance only.
func TestApplyDriftCheckReobservesInBulk(t *testing.T) {
	l := newBulkLab(t, lab.Generator{Count: 300, Name: "cu%05d", Kind: "cloud"})
	var upns []string
	for i := range 300 {
		upns = append(upns, fmt.Sprintf("cu%05d@contoso.com", i))
	}
	e, p, _ := l.plan(t, strings.Replace(someUsers, "BATCH", "true", 1), map[string]string{"upns": `["` + strings.Join(upns, `","`) + `"]`})
	victim, err := l.tn.CloudUser("cu00123@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	anchorVal := "AAAAAAAAAAAAAAAAAAAAAA=="
	if _, err := l.tn.PatchCloudUser(victim.ID, lab.CloudUserPatch{ImmutableID: &anchorVal}); err != nil {
		t.Fatal(err)
	}
	before := l.requests()
	rep, diags := e.Apply(context.Background(), p, engine.Inputs{Vars: map[string]string{"upns": `["` + strings.Join(upns, `","`) + `"]`}}, engine.ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !rep.Refused() || len(rep.Drift) != 1 || rep.Drift[0].Address != `step.entra_immutable_id.clear["cu00123@contoso.com"]` {
		t.Fatalf("drift: refused=%v %+v", rep.Refused(), rep.Drift)
	}
	if !strings.Contains(strings.Join(rep.Drift[0].Attributes, " "), anchorVal) {
		t.Fatalf("drift attributes: %v", rep.Drift[0].Attributes)
	}
	// 300 of 300 users: the count and one listing page.
	if n := l.requests() - before; n > 2 {
		t.Fatalf("apply's drift check spent %d Graph requests on 300 instances", n)
	}
}
