package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rebind-dev/rebind/engine/runbook"
)

// Run with: go test -run '^$' -bench PlanFanOut100k -benchmem -benchtime 1x ./engine/
//
// BenchmarkPlanFanOut100k plans one step fanned out over 100,000 keys
// through the engine, on the in-memory test world (so it measures the
// engine, not a directory): every key already holds its value
// ("unchanged"), or 1,000 of them do not ("1000-changes"). It times
// Engine.Plan, and reports the size of the plan file (file-MB) and the
// plan's instances per second; -benchmem gives the memory planning
// allocates.
func BenchmarkPlanFanOut100k(b *testing.B) {
	const n = 100_000
	src := header + `
step "test_value" "each" {
  for_each = toset(split("\n", trimspace(file("keys.txt"))))
  key      = each.key
  value    = "bound"
}
`
	for _, c := range []struct {
		name    string
		changes int
	}{{"unchanged", 0}, {"1000-changes", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			theWorld.reset()
			var keys []byte
			for i := range n {
				k := fmt.Sprintf("user%06d@contoso.com", i)
				keys = append(append(keys, k...), '\n')
				if c.changes == 0 || i%(n/c.changes) != 0 {
					theWorld.set(k, "bound")
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "keys.txt"), keys, 0o644); err != nil {
				b.Fatal(err)
			}
			e := &Engine{WorkDir: dir, Getenv: func(string) string { return "" }}
			rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			b.ReportAllocs()
			path := filepath.Join(dir, "p.plan")
			for b.Loop() {
				p, diags := e.Plan(context.Background(), rb, Inputs{}, PlanOptions{Author: "bench"})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				if got := p.Changes()["no-op"]; got != n-c.changes {
					b.Fatalf("%d unchanged, want %d", got, n-c.changes)
				}
				b.StopTimer()
				if err := p.Write(path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size())/1e6, "file-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "instances/s")
		})
	}
}
