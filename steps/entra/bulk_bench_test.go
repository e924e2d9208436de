package entra_test

import (
	"context"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab"
)

// wholeTenant reads every user and fans entra_immutable_id out over them,
// each keeping the immutable ID it has: a plan of no-ops, all observation.
const wholeTenant = `
runbook "whole-tenant" {
  title = "Check every user's immutable ID"
}

target "entra" "tenant" {}

data "entra_users" "all" {
  target = target.entra.tenant
}

step "entra_immutable_id_SUFFIX" "keep" {
  target       = target.entra.tenant
  for_each     = data.entra_users.all.by_upn
  upn          = each.key
  immutable_id = each.value.immutable_id
}
`

// BenchmarkWholeTenantFanOutPlan plans wholeTenant against the lab's
// healthy-100k scenario (100,000 synced users) and reports the Graph
// requests the fan-out's observation spent per 100 instances (the plan's
// requests less those of the entra_users listing before it), the plan's
// requests in all, its wall time (ns/op) and the process's peak RSS (lab
// and engine share the process: the tenant's 100,000 users are in it).
// The per-instance sub-benchmark plans the same with the type observing
// each instance alone, as before bulk observation. Run it with
// -benchtime=1x.
func BenchmarkWholeTenantFanOutPlan(b *testing.B) {
	singleTypes(b)
	tn, err := lab.LoadScenario(lab.ScenarioFiles, "healthy-100k")
	if err != nil {
		b.Fatal(err)
	}
	l := serveBulkLab(b, tn)
	n := tn.ActiveCloudUsers()
	// What the listing behind data.entra_users costs: one request a page.
	listing := int64((n + 998) / 999)
	for _, mode := range []struct{ name, suffix string }{{"bulk", ""}, {"per-instance", "_single"}} {
		b.Run(mode.name, func(b *testing.B) {
			planWholeTenant(b, l, strings.ReplaceAll(wholeTenant, "_SUFFIX", mode.suffix), n, listing)
		})
	}
}

func planWholeTenant(b *testing.B, l *bulkLab, src string, n int, listing int64) {
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		e, dir := l.engineOn(b)
		rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		runtime.GC()
		before := l.requests()
		start := time.Now()
		b.StartTimer()
		p, diags := e.Plan(ctx, rb, engine.Inputs{}, engine.PlanOptions{Author: "bench"})
		b.StopTimer()
		elapsed := time.Since(start)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		spent := l.requests() - before
		inst := p.Steps[1].Len()
		if inst != n {
			b.Fatalf("%d instances, want %d", inst, n)
		}
		p.Steps[1].All(func(in plan.Instance, _ bool) bool {
			if in.Action != "no-op" {
				b.Fatalf("%s: %s", in.Address, in.Action)
			}
			return true
		})
		fan := spent - listing
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(100*float64(fan)/float64(inst), "requests/100-instances")
		b.ReportMetric(float64(spent), "plan-requests")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		b.Logf("%d instances: the plan spent %d Graph requests (%d for the listing, %d for the fan-out: %.2f per 100 instances) in %s; peak RSS %d MB",
			inst, spent, listing, fan, 100*float64(fan)/float64(inst), elapsed.Round(time.Millisecond), ru.Maxrss/1024)
		b.StartTimer()
	}
}
