package plan

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Run with: go test -run '^$' -bench Plan100k -benchmem -benchtime 3x ./engine/plan/
//
// BenchmarkPlan100k measures a plan of one fan-out over 100,000 users, all
// already so ("unchanged"), and the same with 1,000 changes among them
// ("1000-changes"): the shapes of a 100,000-user entra_immutable_id plan
// (fanOutPlan). For each it times building the plan's records (the rows
// and the objects stored once, not observing: BenchmarkPlanFanOut100k in
// engine/ plans through the engine), writing the file, reading it back
// (parsing and checking its layout), the digest, and the three renderings
// as rebind show makes them (summarised). It reports the file's size as
// file-MB; -benchmem gives the memory each allocates.
func BenchmarkPlan100k(b *testing.B) {
	for _, c := range []struct {
		name    string
		changes int
	}{{"unchanged", 0}, {"1000-changes", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 100_000
			p := fanOutPlan(n, c.changes)
			path := filepath.Join(b.TempDir(), "p.plan")
			if err := p.Write(path); err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			size := float64(st.Size()) / 1e6
			b.Run("build", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					fanOutPlan(n, c.changes)
				}
			})
			b.Run("write", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := p.Write(path); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(size, "file-MB")
			})
			b.Run("read", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Read(path); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("digest", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p.Digest()
				}
			})
			b.Run("render-text", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := RenderText(io.Discard, p, TextOptions{PlanFile: path}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("render-markdown", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := RenderMarkdown(io.Discard, p, RenderOptions{PlanFile: path}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("render-html", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := RenderHTML(io.Discard, p, RenderOptions{PlanFile: path}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
