package journal

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal/pgtest"
)

// Run with: go test -run '^$' -bench RunsShow100k -benchtime 5x ./engine/journal/
//
// BenchmarkRunsShow100k is what `rebind runs show` reads of a run of one
// step fanned out over 100,000 instances (an intent and an outcome each,
// 700-byte payloads, about the engine's for an entra_immutable_id
// instance): Summary, the counts by state, and RecordsPage for the first
// and the last page of 50 records, on SQLite and on PostgreSQL (a
// throwaway server on loopback, vacuumed as autovacuum would).
func BenchmarkRunsShow100k(b *testing.B) {
	const n = 100000
	c := pgtest.Start(b)
	payload := bytes.Repeat([]byte("x"), 700)
	payload[0], payload[len(payload)-1] = '"', '"'
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var j Journal
			db := ""
			if name == "sqlite" {
				j = openStore(b, b.TempDir())
			} else {
				db = c.NewDB(b)
				j = openPG(b, db, PGOptions{})
			}
			run, err := j.CreateRun(ctx, Run{Runbook: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				step := fmt.Sprintf(`step.entra_immutable_id.bind["user%06d@contoso.com"]`, i)
				for _, k := range []Kind{KindIntent, KindOutcome} {
					if err := j.AppendLazy(ctx, Record{RunID: run.ID, Kind: k, Step: step, Data: payload}); err != nil {
						b.Fatal(err)
					}
				}
				if i%5000 == 4999 {
					if err := j.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if db != "" {
				c.Exec(b, pgtest.DBName(db), `VACUUM (ANALYZE) rebind_records`)
			}
			b.Run("Summary", func(b *testing.B) {
				for b.Loop() {
					sum, err := j.Summary(ctx, run.ID)
					if err != nil {
						b.Fatal(err)
					}
					if len(sum) != 1 || sum[0].Done != n {
						b.Fatalf("summary %+v", sum)
					}
				}
			})
			for _, page := range []struct {
				name   string
				offset int
			}{{"FirstPage", 0}, {"LastPage", 2*n - 50}} {
				b.Run(page.name, func(b *testing.B) {
					for b.Loop() {
						recs, total, err := j.RecordsPage(ctx, run.ID, page.offset, 50)
						if err != nil {
							b.Fatal(err)
						}
						if total != 2*n || len(recs) != 50 {
							b.Fatalf("%d of %d records", len(recs), total)
						}
					}
				})
			}
		})
	}
}
