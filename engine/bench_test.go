package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// Run with: go test -run '^$' -bench Apply1000 -benchtime 3x ./engine/
//
// BenchmarkApply1000FileSteps applies 1,000 file steps with the durable
// journal, as one step fanned out over 1,000 keys (4 at a time, the
// default width) and as 1,000 separate steps run one after the other; and,
// to tell the engine's and the journal's cost from the file system's, the
// 1,000 separate steps again on the in-memory test world. It reports:
//
//	ms/step        wall time of Engine.Apply per step (Apply observes every
//	               file again for drift before it writes; the plan before it
//	               is not timed)
//	fsync-ms       one fsync on this machine, measured in the same run: 100
//	               bytes written and synced, averaged over 200 syncs per
//	               apply (100 right before it, 100 right after), in a
//	               temporary folder on the same file system
//	x-fsync        ms/step divided by fsync-ms, a step's cost in fsyncs: the
//	               goal is 1.5 or less
//	durable/step   durable journal appends per step (the step's intent; the
//	               outcome rides lazily with the next one). Each costs at
//	               most one commit, one fsync of the WAL; when instances run
//	               in parallel, the journal's group commit may share one
//	               between several.
//
// Each file step also syncs what it writes: steps/core's writeAtomic syncs
// the temporary file and then the folder it was renamed in, two fsyncs per
// written file that the journal does not see. So a step costs at least
// durable/step + 2 fsyncs when nothing runs in parallel.
func BenchmarkApply1000FileSteps(b *testing.B) {
	const n = 1000
	b.Run("fan-out", func(b *testing.B) {
		benchApply(b, n, header+`
locals {
  keys = [for i in range(`+fmt.Sprint(n)+`) : format("k%04d", i)]
}

step "file" "each" {
  for_each = toset(local.keys)
  path     = "out/${each.key}.txt"
  content  = "value ${each.key}\n"
}
`)
	})
	b.Run("sequential", func(b *testing.B) {
		var src strings.Builder
		src.WriteString(header)
		for i := range n {
			fmt.Fprintf(&src, "\nstep \"file\" \"s%04d\" {\n  path    = \"out/s%04d.txt\"\n  content = \"value %d\\n\"\n}\n", i, i, i)
		}
		benchApply(b, n, src.String())
	})
	// The same 1,000 sequential steps on the in-memory test world: the
	// engine and the journal alone, without the file steps' own syscalls.
	b.Run("sequential-in-memory", func(b *testing.B) {
		var src strings.Builder
		src.WriteString(header)
		for i := range n {
			fmt.Fprintf(&src, "\nstep \"test_value\" \"s%04d\" {\n  key   = \"s%04d\"\n  value = \"value %d\"\n}\n", i, i, i)
		}
		theWorld.reset()
		benchApply(b, n, src.String())
	})
}

// benchApply plans src in a fresh folder and journal for each iteration,
// then times Apply alone.
func benchApply(b *testing.B, n int, src string) {
	ctx := context.Background()
	probe := b.TempDir()
	var fsyncMS float64 // summed over two probes per iteration
	var applyTime time.Duration
	durable := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		theWorld.reset()
		store, err := journal.Open(filepath.Join(dir, ".rebind"))
		if err != nil {
			b.Fatal(err)
		}
		e := &Engine{Store: store, WorkDir: dir, Getenv: func(string) string { return "" }}
		rb, diags := runbook.LoadSources(dir, map[string][]byte{"main.hcl": []byte(src)})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		p, diags := e.Plan(ctx, rb, Inputs{}, PlanOptions{Author: "bench"})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		// The fsync probe runs right before and right after each apply, on
		// a machine whose load may change from one minute to the next.
		fsyncMS += fsyncLatency(b, probe, 100)
		b.StartTimer()
		start := time.Now()
		rep, diags := e.Apply(ctx, p, Inputs{}, ApplyOptions{})
		applyTime += time.Since(start)
		b.StopTimer()
		fsyncMS += fsyncLatency(b, probe, 100)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		if rep.Status != journal.StatusSucceeded || rep.Applied != n {
			b.Fatalf("status %s, %d applied, want succeeded and %d: %+v", rep.Status, rep.Applied, n, rep.Failures)
		}
		recs, err := store.Records(ctx, rep.RunID)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if r.Kind == journal.KindIntent {
				durable++
			}
		}
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	fsync := fsyncMS / float64(2*b.N)
	steps := float64(b.N * n)
	msPerStep := float64(applyTime) / float64(time.Millisecond) / steps
	b.ReportMetric(msPerStep, "ms/step")
	b.ReportMetric(fsync, "fsync-ms")
	b.ReportMetric(msPerStep/fsync, "x-fsync")
	b.ReportMetric(float64(durable)/steps, "durable/step")
}

// fsyncLatency returns the mean time in milliseconds of writing 100 bytes
// to a file in dir and syncing it, over count syncs.
func fsyncLatency(b *testing.B, dir string, count int) float64 {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 100)
	start := time.Now()
	for range count {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start)) / float64(time.Millisecond) / float64(count)
}
