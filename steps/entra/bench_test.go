package entra

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// benchReadUnits is the lab's throttle for the benchmark: 2,000 resource
// units per 10 s, a ceiling of 200 one-unit writes per second. Writes per
// 150 s are not limited here, so that the figure measures how close the
// client gets to the ceiling.
const benchReadUnits = 2000

// benchLatency delays every lab answer, standing in for the round trip to
// Graph: on loopback a plain loop of single calls would otherwise be as
// fast as the throttle allows, which it is not against a real tenant.
const benchLatency = 25 * time.Millisecond

// BenchmarkImmutableID10k sets the immutable ID of lab users through
// entra_immutable_id's Apply: 10,000 of them as a fan-out of 200 concurrent
// instances sharing $batch requests, and 1,000 as a plain loop of single
// SDK calls (whose rate does not depend on the count). It reports writes
// per second, the share of the throttle's budget used in the windows the
// run spanned (%ceiling: writes / (units per window x windows)), and the
// 429 answers. Run it with -benchtime=1x: a pass takes 40 s or more.
func BenchmarkImmutableID10k(b *testing.B) {
	for _, mode := range []struct {
		name        string
		users       int
		batch       bool
		concurrency int
	}{
		{"batched-fanout-200", 10000, true, 200},
		{"single-call-loop", 1000, false, 1},
	} {
		b.Run(mode.name, func(b *testing.B) {
			n := mode.users
			tn, _, srv, sc := cloudTenant(b, n, labhttp.ServerOptions{ReadUnits: benchReadUnits})
			c := openLab(b, srv.URL, map[string]any{"batch": mode.batch})
			ctx := context.Background()
			list, err := c.listUsers(ctx, "", false, 0)
			if err != nil || len(list) != n {
				b.Fatalf("list: %d users, %v", len(list), err)
			}
			now := c.now()
			sc.latency = benchLatency
			typ := steptest.Step(b, "entra_immutable_id")
			// Let the listing's window pass so that each run starts with a
			// whole budget.
			time.Sleep(10 * time.Second)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				round := it + 1
				var failed int64
				sem := make(chan struct{}, mode.concurrency)
				var wg sync.WaitGroup
				before := sc.snapshot()
				start := time.Now()
				for i, u := range list {
					wg.Add(1)
					sem <- struct{}{}
					go func(i int, u user) {
						defer func() { <-sem; wg.Done() }()
						_, call := newCall(b, "entra_immutable_id", c, map[string]any{"id": u.ID, "immutable_id": anchorFor(i, round)}, true)
						ch, err := typ.Diff(ctx, call, steps.Observation{Object: userObject(u.ID), Value: userValue(u, now)})
						if err == nil {
							_, err = typ.Apply(ctx, call, ch)
						}
						if err != nil {
							atomic.AddInt64(&failed, 1)
						}
					}(i, u)
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				after := sc.snapshot()
				if failed > 0 {
					b.Fatalf("%d of %d writes failed", failed, n)
				}
				for i, u := range list {
					if got, _ := tn.CloudUser(u.ID); got.OnPremisesImmutableID != anchorFor(i, round) {
						b.Fatalf("user %d: %q", i, got.OnPremisesImmutableID)
					}
				}
				rate := float64(n) / elapsed.Seconds()
				windows := math.Ceil(elapsed.Seconds() / 10)
				share := 100 * float64(n) / (benchReadUnits * windows)
				b.ReportMetric(rate, "writes/s")
				b.ReportMetric(share, "%ceiling")
				b.ReportMetric(float64(after[429]-before[429]), "http-429")
				msg := fmt.Sprintf("%s: %d writes in %s: %.0f/s against a ceiling of %d/s; %.1f%% of the budget of the %.0f windows spanned; %d answers 429",
					mode.name, n, elapsed.Round(time.Millisecond), rate, benchReadUnits/10, share, windows, after[429]-before[429])
				if c.batch != nil {
					batches, items, retried := c.batch.stats()
					msg += fmt.Sprintf("; %d batch requests carried %d items, %d of them sent again after an item-level 429", batches, items, retried)
				}
				b.Log(msg)
				b.StartTimer()
			}
		})
	}
}
