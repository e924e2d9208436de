package lab_test

import (
	"bytes"
	"testing"

	"github.com/rebind-dev/rebind/lab"
)

// BenchmarkInitialCycle100k runs a full sync cycle over 100,000 users.
func BenchmarkInitialCycle100k(b *testing.B) {
	tn := load(b, "healthy-100k")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := tn.SyncCycle(lab.Initial)
		if err != nil || len(res.Errors) != 0 {
			b.Fatalf("%+v, %v", res.Errors, err)
		}
	}
}

// BenchmarkDump100k writes the 100,000-user tenant as a scenario (what
// GET /lab/dump and --state files hold) and loads it back.
func BenchmarkDump100k(b *testing.B) {
	tn := load(b, "healthy-100k")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := tn.Save(&buf); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(buf.Len())/(1<<20), "dump-MB")
		if _, err := lab.Load(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
