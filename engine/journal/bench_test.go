package journal

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Run with: go test -run '^$' -bench . -benchtime 2000x ./engine/journal/
//
// BenchmarkFsync is the floor: what one fsync costs on this machine.
// BenchmarkAppendDurable and BenchmarkStepPair should each cost about one
// fsync; BenchmarkAppendParallel should cost a fraction of one per op, the
// fraction being the group commit at work (commits/op is reported).
//
// That a commit really fsyncs the WAL shows under strace: built with
// go test -c, `strace -f -c -e trace=fsync,fdatasync ./journal.test -test.run
// '^$' -test.bench 'AppendDurable|StepPair' -test.benchtime 2000x` counted
// 4,061 fsync calls for the 4,000 commits (the rest: schema, checkpoints).

// BenchmarkFsync writes 100 bytes and fsyncs the file, per op.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 100)
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B) (*Store, Run) {
	s := openStore(b, b.TempDir())
	return s, createRun(b, s, Run{})
}

func reportCommits(b *testing.B, s *Store, before int64) {
	b.ReportMetric(float64(s.commits.Load()-before)/float64(b.N), "commits/op")
}

var payload = []byte(`{"object":"3f9a2c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f","attribute":"onPremisesImmutableId","before":"AAECAwQFBgcICQoLDA0ODw=="}`)

// BenchmarkAppendDurable is one durable Append per op.
func BenchmarkAppendDurable(b *testing.B) {
	ctx := context.Background()
	s, run := benchStore(b)
	before := s.commits.Load()
	for b.Loop() {
		if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
			b.Fatal(err)
		}
	}
	reportCommits(b, s, before)
}

// BenchmarkStepPair is the journal's cost per step: the lazy outcome of the
// previous step and the durable intent of the next, in one commit.
func BenchmarkStepPair(b *testing.B) {
	ctx := context.Background()
	s, run := benchStore(b)
	before := s.commits.Load()
	for b.Loop() {
		if err := s.AppendLazy(ctx, Record{RunID: run.ID, Kind: KindOutcome, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k2"]`, Data: payload}); err != nil {
			b.Fatal(err)
		}
	}
	reportCommits(b, s, before)
}

// BenchmarkAppendParallel is a fan-out of 32 goroutines (16 per core on two
// cores) appending durably: the group commit shares fsyncs among them.
func BenchmarkAppendParallel(b *testing.B) {
	ctx := context.Background()
	s, run := benchStore(b)
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	before := s.commits.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Append(ctx, Record{RunID: run.ID, Kind: KindIntent, Step: `step.file.a["k1"]`, Data: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCommits(b, s, before)
}
