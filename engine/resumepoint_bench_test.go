package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/journal"
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

func BenchmarkResumePoint100k(b *testing.B) {
	const n, done, inFlight = 100000, 60000, 4
	ctx := context.Background()
	j, err := journal.Open(b.TempDir())
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
	b.Logf("filled in %s", time.Since(t0))
	for b.Loop() {
		recs, err := j.Records(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		rp, err := fold(recs)
		if err != nil {
			b.Fatal(err)
		}
		doubt := 0
		for _, st := range rp.inst {
			if st.inDoubt() {
				doubt++
			}
		}
		if doubt != inFlight {
			b.Fatalf("%d in doubt", doubt)
		}
	}
}
