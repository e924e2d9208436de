package exo

import (
	"context"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/steps"
)

// BenchmarkWholeTenantObserveMany observes a fan-out of exo_hold over every
// mailbox of the lab's healthy-100k scenario (100,000 instances, each
// naming its mailbox by UPN) as the engine does at plan and at apply's
// drift check, and reports the Exchange requests it spent per 100
// instances; "alone" observes the first 100 instances one by one, as
// before bulk reads (README, Measurements). Run it with -benchtime 1x.
func BenchmarkWholeTenantObserveMany(b *testing.B) {
	tn, _, c := labExchange(b, "healthy-100k")
	ct := counted(c)
	var calls []steps.Call
	for _, r := range tn.Recipients(lab.RecipientQuery{Type: lab.UserMailbox}) {
		_, call := newCall(b, "exo_hold", c, map[string]any{"identity": r.UserPrincipalName, "enabled": false})
		call.Address = "step.exo_hold.release[" + r.UserPrincipalName + "]"
		calls = append(calls, call)
	}
	if len(calls) < 100000 {
		b.Fatalf("%d mailboxes", len(calls))
	}
	b.Run("bulk", func(b *testing.B) {
		for range b.N {
			before := ct.n.Load()
			start := time.Now()
			res, err := holdStep{}.ObserveMany(context.Background(), calls)
			if err != nil {
				b.Fatal(err)
			}
			for i, r := range res {
				if r.Err != nil || r.Observation.Value.GetAttr("upn").AsString() != identityOf(calls[i]) {
					b.Fatalf("%s: %v", calls[i].Address, r.Err)
				}
			}
			n := ct.n.Load() - before
			b.ReportMetric(100*float64(n)/float64(len(calls)), "requests/100-instances")
			b.Logf("%d instances observed with %d Exchange requests (%.2f per 100) in %s", len(calls), n, 100*float64(n)/float64(len(calls)), time.Since(start).Round(time.Millisecond))
		}
	})
	b.Run("alone", func(b *testing.B) {
		for range b.N {
			before := ct.n.Load()
			start := time.Now()
			for _, call := range calls[:100] {
				if _, err := (holdStep{}).Observe(context.Background(), call); err != nil {
					b.Fatal(err)
				}
			}
			n := ct.n.Load() - before
			b.ReportMetric(float64(n), "requests/100-instances")
			b.Logf("100 instances observed alone with %d Exchange requests in %s", n, time.Since(start).Round(time.Millisecond))
		}
	})
}
