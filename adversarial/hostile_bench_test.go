package adversarial

import (
	"io"
	"syscall"
	"testing"

	"github.com/rebind-dev/rebind/internal/e2e"
)

// BenchmarkHostileInputs measures how long rebind takes to answer each
// hostile input of the corpus (hostile_test.go) and its peak memory, as
// real processes:
//
//	go test -run '^$' -bench HostileInputs -benchtime 3x ./adversarial/
//
// ns/op is the wall time of one rebind process, peak-MB its peak resident
// memory as the kernel reports it to the parent. That figure includes the
// parent's own peak at the fork (the test binary, about 35 MB: see the
// "version" row), so rows at that level used no more. The goal is at most
// 2 s and 200 MB for each; TestHostileInputs asserts the memory limit and
// only a generous wall-clock limit, against hangs.
func BenchmarkHostileInputs(b *testing.B) {
	cases := append([]hostileCase{{name: "version", ok: true, setup: func(string) []string { return []string{"version"} }}}, hostileCases()...)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			args := c.setup(dir)
			var peak int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rss, code := runProcess(b, dir, c.env, args)
				if (code == 0) != c.ok {
					b.Fatalf("exit %d", code)
				}
				peak = max(peak, rss)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
		})
	}
}

// runProcess runs rebind in dir with its output discarded and returns its
// peak resident memory in bytes and its exit code.
func runProcess(b *testing.B, dir string, env, args []string) (int64, int) {
	b.Helper()
	cmd := e2e.Rebind(dir, env, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		b.Fatal(err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // Linux reports KiB
	}
	return rss, cmd.ProcessState.ExitCode()
}
