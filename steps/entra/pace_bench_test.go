package entra_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// BenchmarkPacedApply plans and applies pacedFanOut over REBIND_PACED_USERS
// cloud users (10,000 unless set; the figure is 100,000) that all
// change, against a lab throttled at the small tier (3,500 resource units
// per 10 s and 3,000 writes per 150 s per app and tenant,
// https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits),
// the target paced under the same tier. It reports the share of the
// ceiling apply reached (the binding quota: here the write quota, 20
// writes a second), the failed instances and the lab's 429 answers. Run
// it alone with -benchtime=1x: 10,000 users take about 9 minutes, 100,000
// about 88.
func BenchmarkPacedApply(b *testing.B) {
	n := 10000
	if v := os.Getenv("REBIND_PACED_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("REBIND_PACED_USERS=%q is not a positive number", v)
		}
	}
	for range b.N {
		b.StopTimer()
		tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: n, Name: "cu%06d", Kind: "cloud"}}})
		if err != nil {
			b.Fatal(err)
		}
		l := serveBulkLab(b, tn)
		l.srv.SetLimits(labhttp.TierUnits["small"], 3000)
		e, p, _ := l.plan(b, pacedFanOut, nil)
		sc := p.Cost.Services[0]
		unitsBefore, reqBefore := l.srv.GraphUnits(), l.requests()
		b.StartTimer()
		start := time.Now()
		rep, diags := e.Apply(context.Background(), p, engine.Inputs{}, engine.ApplyOptions{})
		elapsed := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() {
			b.Fatalf("apply: %s", diags.Error())
		}
		units, requests := l.srv.GraphUnits()-unitsBefore, l.requests()-reqBefore
		throttled, _ := l.srv.GraphThrottled()
		secs := elapsed.Seconds()
		unitShare := float64(units) / (secs * 3500 / 10)
		writeShare := float64(rep.Applied) / (secs * 3000 / 150)
		ceiling := max(unitShare, writeShare)
		b.ReportMetric(100*ceiling, "%ceiling")
		b.ReportMetric(float64(len(rep.Failures)), "failed")
		b.ReportMetric(float64(throttled), "http-429")
		b.ReportMetric(float64(rep.Applied)/secs, "writes/s")
		b.Logf("%d instances applied, %d failed, in %s: %.1f writes/s (%.1f%% of the write quota's 20/s), %d units (%.1f%% of 350/s), %d requests, %d answered 429; the plan stated at most %d requests, %d units, %d writes, about %d s",
			rep.Applied, len(rep.Failures), elapsed.Round(time.Second), float64(rep.Applied)/secs, 100*writeShare, units, 100*unitShare,
			requests, throttled, sc.Requests, sc.Units, sc.Writes, sc.Seconds)
		if rep.Applied != n || len(rep.Failures) > 0 || throttled > 0 || ceiling < 0.9 {
			b.Errorf("want %d applied, 0 failed, 0 answered 429, >= 90%% of the ceiling", n)
		}
	}
}
