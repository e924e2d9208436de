package engine

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
)

// TestReadJournalFindsThePointOfManyInstances checks that the journal as
// resume reads it (heads, then the payloads it needs) says of every one of
// 5,000 instances what the whole records say: done or in doubt, the same
// outcome and the same intent for the ones in doubt.
func TestReadJournalFindsThePointOfManyInstances(t *testing.T) {
	const n, done, inFlight = 5000, 4321, 7
	ctx := context.Background()
	j, err := journal.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	run, err := j.CreateRun(ctx, journal.Run{Runbook: "many"})
	if err != nil {
		t.Fatal(err)
	}
	fillKilledRun(t, j, run.ID, n, done, inFlight)
	recs, err := j.Records(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fold(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readJournal(ctx, j, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.order, want.order) || len(got.order) != done+inFlight {
		t.Fatalf("%d instances, want %d in the same order", len(got.order), len(want.order))
	}
	doubt := got.inDoubtList()
	if len(doubt) != inFlight || doubt[0] != fmt.Sprintf(`step.entra_immutable_id.bind["user%06d@contoso.com"]`, done) {
		t.Errorf("in doubt: %v, want the %d after the first %d", doubt, inFlight, done)
	}
	if !reflect.DeepEqual(doubt, want.inDoubtList()) {
		t.Errorf("in doubt %v, the whole records say %v", doubt, want.inDoubtList())
	}
	for _, addr := range got.order {
		g, w := got.inst[addr], want.inst[addr]
		if g.done() != w.done() || g.inDoubt() != w.inDoubt() {
			t.Fatalf("%s: done %t in doubt %t, want %t %t", addr, g.done(), g.inDoubt(), w.done(), w.inDoubt())
		}
		if g.inDoubt() && !reflect.DeepEqual(g.intent, w.intent) {
			t.Fatalf("%s: intent %+v, want %+v", addr, g.intent, w.intent)
		}
		if g.done() {
			go1, err1 := g.outcome()
			wo, err2 := w.outcome()
			if err1 != nil || err2 != nil || !reflect.DeepEqual(go1, wo) {
				t.Fatalf("%s: outcome %+v (%v), want %+v (%v)", addr, go1, err1, wo, err2)
			}
		}
	}
}

// TestResumeOfManyInstancesWritesNoneTwice interrupts an apply of a
// 2,000-instance fan-out after 1,000 instances ended, then resumes it: the
// resume takes the instances done before from the journal (and says so in
// its events), writes each of the others once, and leaves every key as
// planned; a later step that reads the fan-out's values sees all 2,000.
func TestResumeOfManyInstancesWritesNoneTwice(t *testing.T) {
	const n = 2000
	h := newHarness(t)
	src := header + fmt.Sprintf(`
step "test_value" "each" {
  for_each = toset(flatten([for a in range(%d) : [for b in range(100) : format("k%%04d", a * 100 + b)]]))
  key      = each.key
  value    = "v-${each.key}"
}

step "test_value" "count" {
  key   = "count"
  value = tostring(length([for k, v in step.test_value.each : k if v.result.written == "v-${k}"]))
}
`, n/100)
	p := h.plan(src, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var ended atomic.Int64
	h.e.Events = func(ev Event) {
		if ev.Kind == InstanceDone && ended.Add(1) == n/2 {
			cancel()
		}
	}
	rep, diags := h.e.Apply(ctx, p, Inputs{}, ApplyOptions{})
	cancel()
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if rep.Status != journal.StatusFailed || rep.Interrupted == "" {
		t.Fatalf("status %s, want an interrupted run", rep.Status)
	}
	firstRun := rep.Applied

	var before, applied atomic.Int64
	h.e.Events = func(ev Event) {
		if ev.Kind == InstanceDone && ev.Step == "step.test_value.each" {
			switch ev.Outcome {
			case OutcomeDoneBefore:
				before.Add(1)
			case OutcomeApplied:
				applied.Add(1)
			}
		}
	}
	rep, diags = h.e.Resume(context.Background(), rep.RunID, Inputs{}, ResumeOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("resume: %v %+v", diags, rep)
	}
	if before.Load() < int64(firstRun) || before.Load()+applied.Load() != n {
		t.Errorf("resume: %d done before, %d applied; the first run applied %d of %d", before.Load(), applied.Load(), firstRun, n)
	}
	for i := range n {
		k := fmt.Sprintf("k%04d", i)
		if got := theWorld.get(k); got != "v-"+k {
			t.Fatalf("%s = %q", k, got)
		}
		if a := theWorld.count(theWorld.applies, k); a != 1 {
			t.Errorf("%s written %d times", k, a)
		}
	}
	if got := theWorld.get("count"); got != fmt.Sprint(n) {
		t.Errorf("the step after the fan-out saw %s of its %d values", got, n)
	}
}
