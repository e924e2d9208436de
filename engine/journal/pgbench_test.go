package journal

import (
	"context"
	"runtime"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal/pgtest"
)

// Run with: go test -run '^$' -bench Backends -benchtime 2s ./engine/journal/
//
// BenchmarkBackends measures the journal's append latency on SQLite and on
// PostgreSQL (a throwaway server on loopback, fsync on, synchronous_commit
// on: the defaults) on the same machine. On PostgreSQL the run is claimed,
// so every commit also checks and extends the lease (the fencing check a
// real run pays). ns/op of AppendDurable is one durable append's latency.
func BenchmarkBackends(b *testing.B) {
	// One server for every round, stopped when the benchmark ends.
	c := pgtest.Start(b)
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			open := func(b *testing.B) (Journal, Run) {
				var j Journal
				if name == "sqlite" {
					j = openStore(b, b.TempDir())
				} else {
					j = openPG(b, c.NewDB(b), PGOptions{})
				}
				run, err := j.CreateRun(context.Background(), Run{Runbook: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				release, err := j.Claim(run.ID)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { release() })
				return j, run
			}
			ctx := context.Background()
			b.Run("AppendDurable", func(b *testing.B) {
				j, run := open(b)
				for b.Loop() {
					if _, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("StepPair", func(b *testing.B) {
				j, run := open(b)
				for b.Loop() {
					if err := j.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
						b.Fatal(err)
					}
					if _, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k2"]`, Data: payload}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("AppendParallel", func(b *testing.B) {
				j, run := open(b)
				b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := j.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
