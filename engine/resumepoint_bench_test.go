package engine

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/journal/pgtest"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// fillKilledRun writes, into run, the journal an apply of one step fanned
// out over n users leaves when it is killed with done of them finished and
// the next inFlight written (intent durable, no outcome): each record
// shaped as the engine writes it for an entra_immutable_id instance.
func fillKilledRun(tb testing.TB, j journal.Journal, runID string, n, done, inFlight int) {
	tb.Helper()
	ctx := context.Background()
	for i := 0; i < done+inFlight; i++ {
		key := fmt.Sprintf("user%06d@contoso.com", i)
		addr := `step.entra_immutable_id.bind["` + key + `"]`
		cfg, _ := encodeTyped(cty.ObjectVal(map[string]cty.Value{
			"user_id":      cty.StringVal(key),
			"immutable_id": cty.StringVal("AAECAwQFBgcICQoLDA0ODw=="),
		}))
		obs := cty.ObjectVal(map[string]cty.Value{
			"id":                  cty.StringVal(fmt.Sprintf("3f9a2c1e-7b4d-4e8a-9c0f-%012d", i)),
			"user_principal_name": cty.StringVal(key),
			"immutable_id":        cty.StringVal("AAECAwQFBgcICQoLDA0ODw=="),
			"sync_enabled":        cty.True,
		})
		change := steps.Change{Action: steps.Update, Before: cty.ObjectVal(map[string]cty.Value{"immutable_id": cty.NullVal(cty.String)}),
			After: cty.ObjectVal(map[string]cty.Value{"immutable_id": cty.StringVal("AAECAwQFBgcICQoLDA0ODw==")})}
		cd, err := encodeChange(change, nil)
		if err != nil {
			tb.Fatal(err)
		}
		rec := journal.Record{RunID: runID, Kind: journal.KindIntent, Step: addr,
			Data: mustJSON(intentData{Key: key, Object: key, Config: cfg, Change: cd})}
		if err := j.AppendLazy(ctx, rec); err != nil {
			tb.Fatal(err)
		}
		if i >= done {
			continue
		}
		ob, _ := encodeTyped(obs)
		od := outcomeData{Key: key, Object: key, Action: string(steps.Update), Config: cfg, Change: &cd, Observed: ob}
		if err := j.AppendLazy(ctx, journal.Record{RunID: runID, Kind: journal.KindOutcome, Step: addr, Data: mustJSON(od)}); err != nil {
			tb.Fatal(err)
		}
		if i%5000 == 0 {
			if err := j.Flush(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := j.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
}

// Run with: go test -run '^$' -bench ResumePoint100k -benchtime 5x ./engine/
//
// BenchmarkResumePoint100k is the first thing `rebind resume` does after
// an apply of a 100,000-instance fan-out was killed (kill -9) near its end:
// 99,996 instances done (intent and outcome), the 4 that were in flight
// with their intent alone. It times finding the point to go on from:
// reading the run's journal (Records) and folding it (fold), down to the
// list of in-doubt instances, on the SQLite journal and on PostgreSQL (a
// throwaway server on loopback). The plan's decoding is not in it; the walk
// over the done instances that follows decodes each outcome as it passes.
func BenchmarkResumePoint100k(b *testing.B) {
	const n, done, inFlight = 100000, 99996, 4
	c := pgtest.Start(b)
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var j journal.Journal
			var err error
			var db string
			if name == "sqlite" {
				j, err = journal.Open(b.TempDir())
			} else {
				db = c.NewDB(b)
				j, err = journal.OpenPG(ctx, db, journal.PGOptions{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			run, err := j.CreateRun(ctx, journal.Run{Runbook: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			fillKilledRun(b, j, run.ID, n, done, inFlight)
			b.Logf("%s: wrote the journal of %d instances in %s", name, done+inFlight, time.Since(t0).Round(time.Millisecond))
			if db != "" {
				// What autovacuum does to a table after inserts, which
				// lets PostgreSQL read the covering index alone.
				c.Exec(b, pgtest.DBName(db), `VACUUM (ANALYZE) rebind_records`)
			}
			// What resume does (readJournal), and, to compare, reading
			// every record with its payload as it did before.
			b.Run("heads", func(b *testing.B) {
				for b.Loop() {
					rp, err := readJournal(ctx, j, run.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got := len(rp.inDoubtList()); got != inFlight {
						b.Fatalf("%d in doubt, want %d", got, inFlight)
					}
				}
			})
			b.Run("all-records", func(b *testing.B) {
				for b.Loop() {
					rp := resumePoint(b, j, run.ID)
					if got := len(rp.inDoubtList()); got != inFlight {
						b.Fatalf("%d in doubt, want %d", got, inFlight)
					}
				}
			})
		})
	}
}

// resumePoint reads a run's journal whole, payloads and all.
func resumePoint(tb testing.TB, j journal.Journal, runID string) *replay {
	tb.Helper()
	recs, err := j.Records(context.Background(), runID)
	if err != nil {
		tb.Fatal(err)
	}
	rp, err := fold(recs)
	if err != nil {
		tb.Fatal(err)
	}
	return rp
}

// inDoubtList is the addresses of the in-doubt instances, in order.
func (r *replay) inDoubtList() []string {
	var out []string
	for _, addr := range r.order {
		if r.inst[addr].inDoubt() {
			out = append(out, addr)
		}
	}
	return out
}

// Run with: go test -run '^$' -bench Resume100kAfterKill -benchtime 1x -timeout 60m ./engine/
//
// BenchmarkResume100kAfterKill is `rebind resume` of a 100,000-instance
// fan-out (the in-memory test_value type, SQLite journal) killed with
// 99,996 instances done and 4 in flight: the journal and the run's plan as
// the apply left them. It reports:
//
//	s-to-step   from Engine.Resume's call to the fan-out's start: the run
//	            and its plan decoded, the journal read, for_each evaluated
//	s-to-point  from Engine.Resume's call to the first instance it works
//	            on again (one of the 4 in doubt): the run and its plan
//	            decoded, the journal read, the 99,996 done instances passed
//	s-total     the whole resume, to the run's end
//
// Making the plan (7-22 s here) and writing the journal are not
// timed.
func BenchmarkResume100kAfterKill(b *testing.B) {
	const n, done, inFlight = 100000, 99996, 4
	dir := b.TempDir()
	theWorld.reset()
	e := &Engine{WorkDir: dir, Log: io.Discard, Getenv: func(string) string { return "" }}
	rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(header + fmt.Sprintf(`
step "test_value" "each" {
  for_each = { for k in flatten([for a in range(%d) : [for b in range(100) : format("k%%06d", a * 100 + b)]]) : k => k }
  key      = each.key
  value    = "v-${each.key}"
}
`, n/100))})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	ctx := context.Background()
	t0 := time.Now()
	p, diags := e.Plan(ctx, rb, Inputs{}, PlanOptions{Author: "bench"})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	planBytes := p.CanonicalBytes()
	b.Logf("planned %d instances in %s (%d bytes)", n, time.Since(t0).Round(time.Second), len(planBytes))
	info := valueType{}.Info()
	var toStep, toPoint, total time.Duration
	for i := 0; i < b.N; i++ {
		j, err := journal.Open(filepath.Join(b.TempDir(), "state"))
		if err != nil {
			b.Fatal(err)
		}
		run, err := j.CreateRun(ctx, journal.Run{Runbook: p.Runbook.Name, RunbookDigest: p.Runbook.Digest,
			Dir: dir, Inputs: mustJSON(p.Inputs), Plan: planBytes, Status: journal.StatusRunning})
		if err != nil {
			b.Fatal(err)
		}
		theWorld.reset()
		for k := 0; k < done+inFlight; k++ {
			key := fmt.Sprintf("k%06d", k)
			addr := `step.test_value.each["` + key + `"]`
			cfg := storedConfig(info.Schema, cty.ObjectVal(map[string]cty.Value{
				"key": cty.StringVal(key), "value": cty.StringVal("v-" + key),
				"fail": cty.NullVal(cty.Bool), "secret": cty.NullVal(cty.String)}))
			change := steps.Change{Action: steps.Create,
				Before: cty.ObjectVal(map[string]cty.Value{"value": cty.NullVal(cty.String)}),
				After:  cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal("v-" + key)})}
			cd, err := encodeChange(change, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := j.AppendLazy(ctx, journal.Record{RunID: run.ID, Kind: journal.KindIntent, Step: addr,
				Data: mustJSON(intentData{Key: key, Object: "test:" + key, Config: cfg, Change: cd})}); err != nil {
				b.Fatal(err)
			}
			if k >= done {
				continue // in flight when the process was killed
			}
			theWorld.set(key, "v-"+key)
			obs, _ := encodeTyped(cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": cty.StringVal("v-" + key)}))
			res, _ := encodeTyped(cty.ObjectVal(map[string]cty.Value{"written": cty.StringVal("v-" + key)}))
			if err := j.AppendLazy(ctx, journal.Record{RunID: run.ID, Kind: journal.KindOutcome, Step: addr,
				Data: mustJSON(outcomeData{Key: key, Object: "test:" + key, Action: string(steps.Create), Config: cfg, Change: &cd, Observed: obs, Result: res})}); err != nil {
				b.Fatal(err)
			}
			if k%5000 == 0 {
				if err := j.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := j.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		e.Store = j
		var start time.Time
		var first, began atomic.Int64
		e.Events = func(ev Event) {
			if ev.Kind == StepStarted {
				began.CompareAndSwap(0, int64(time.Since(start)))
			}
			if ev.Kind == InstanceDone && ev.Outcome != OutcomeDoneBefore {
				first.CompareAndSwap(0, int64(time.Since(start)))
			}
		}
		start = time.Now()
		rep, diags := e.Resume(ctx, run.ID, Inputs{}, ResumeOptions{})
		total += time.Since(start)
		toPoint += time.Duration(first.Load())
		toStep += time.Duration(began.Load())
		if diags.HasErrors() || rep.Status != journal.StatusSucceeded || rep.Applied != inFlight {
			b.Fatalf("resume: %v %+v", diags, rep)
		}
		for k := done; k < done+inFlight; k++ {
			key := fmt.Sprintf("k%06d", k)
			if theWorld.count(theWorld.applies, key) != 1 || theWorld.get(key) != "v-"+key {
				b.Fatalf("%s: %d writes, value %q", key, theWorld.count(theWorld.applies, key), theWorld.get(key))
			}
		}
		if w := len(theWorld.applies); w != inFlight {
			b.Fatalf("%d keys written, want the %d in flight", w, inFlight)
		}
		j.Close()
	}
	b.ReportMetric(toStep.Seconds()/float64(b.N), "s-to-step")
	b.ReportMetric(toPoint.Seconds()/float64(b.N), "s-to-point")
	b.ReportMetric(total.Seconds()/float64(b.N), "s-total")
}
