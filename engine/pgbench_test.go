package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/journal/pgtest"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// Run with: go test -run '^$' -bench Apply1000Backends -benchtime 3x ./engine/
//
// BenchmarkApply1000Backends applies 1,000 sequential steps on the in-memory
// test world with the SQLite journal and with the PostgreSQL one (a
// throwaway server on loopback, durable defaults), so that the difference
// is the journal's: ms/step is Engine.Apply's wall time per step, plan
// excluded.
func BenchmarkApply1000Backends(b *testing.B) {
	const n = 1000
	var src strings.Builder
	src.WriteString(header)
	for i := range n {
		fmt.Fprintf(&src, "\nstep \"test_value\" \"s%04d\" {\n  key   = \"s%04d\"\n  value = \"value %d\"\n}\n", i, i, i)
	}
	// One server for every round, stopped when the benchmark ends.
	c := pgtest.Start(b)
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var applyTime time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				theWorld.reset()
				var store journal.Journal
				var err error
				if name == "sqlite" {
					store, err = journal.Open(filepath.Join(dir, ".rebind"))
				} else {
					store, err = journal.OpenPG(ctx, c.NewDB(b), journal.PGOptions{})
				}
				if err != nil {
					b.Fatal(err)
				}
				e := &Engine{Store: store, WorkDir: dir, Getenv: func(string) string { return "" }}
				rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src.String())})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				p, diags := e.Plan(ctx, rb, Inputs{}, PlanOptions{Author: "bench"})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				b.StartTimer()
				start := time.Now()
				rep, diags := e.Apply(ctx, p, Inputs{}, ApplyOptions{})
				applyTime += time.Since(start)
				b.StopTimer()
				if diags.HasErrors() || rep.Status != journal.StatusSucceeded || rep.Applied != n {
					b.Fatalf("apply: %v %+v", diags, rep)
				}
				if err := store.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(applyTime)/float64(time.Millisecond)/float64(b.N*n), "ms/step")
		})
	}
}
