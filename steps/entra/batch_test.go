package entra

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// cloudTenant serves a lab tenant of n cloud-managed users (whose immutable
// IDs Graph lets rebind write), counting the requests by status.
func cloudTenant(t testing.TB, n int, opts labhttp.ServerOptions) (*lab.Tenant, *labhttp.Server, *httptest.Server, *statusCounter) {
	t.Helper()
	tn, err := lab.FromState(lab.State{Generate: []lab.Generator{{Count: n, Name: "cu%05d", Kind: "cloud"}}})
	if err != nil {
		t.Fatal(err)
	}
	if opts.WriteUnits == 0 {
		opts.WriteUnits = 1 << 30
	}
	opts.Anonymous = true
	s := labhttp.NewServer(tn, opts)
	sc := &statusCounter{next: s, byStatus: map[int]int64{}}
	return tn, s, serveTLS(t, s, sc), sc
}

// statusCounter counts the lab's answers by status, after an optional
// delay that stands in for the round trip to Graph.
type statusCounter struct {
	next     http.Handler
	latency  time.Duration
	mu       sync.Mutex
	byStatus map[int]int64
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }

func (sc *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if sc.latency > 0 {
		time.Sleep(sc.latency)
	}
	sw := &statusWriter{ResponseWriter: w, status: 200}
	sc.next.ServeHTTP(sw, r)
	sc.mu.Lock()
	sc.byStatus[sw.status]++
	sc.mu.Unlock()
}

func (sc *statusCounter) snapshot() map[int]int64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := map[int]int64{}
	for k, v := range sc.byStatus {
		out[k] = v
	}
	return out
}

// anchorFor is the immutable ID user i gets in round r.
func anchorFor(i, r int) string {
	var g anchor.GUID
	binary.BigEndian.PutUint64(g[:8], uint64(r)+1)
	binary.BigEndian.PutUint64(g[8:], uint64(i)+1)
	return g.ImmutableID()
}

// fanOut runs entra_immutable_id for n users as the engine's for_each does:
// each instance observes, diffs and applies on its own goroutine, at most
// concurrency at a time.
func fanOut(t testing.TB, c *Client, n, concurrency, round int) (failed int64) {
	typ := steptest.Step(t, "entra_immutable_id")
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			_, call := newCall(t, "entra_immutable_id", c, map[string]any{"upn": fmt.Sprintf("cu%05d@contoso.com", i), "immutable_id": anchorFor(i, round)}, true)
			obs, err := typ.Observe(context.Background(), call)
			if err == nil {
				var ch steps.Change
				if ch, err = typ.Diff(context.Background(), call, obs); err == nil {
					_, err = typ.Apply(context.Background(), call, ch)
				}
			}
			if err != nil {
				atomic.AddInt64(&failed, 1)
				t.Errorf("user %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	return failed
}

// TestFanOutUnderFaults sets the immutable ID of 1,000 users while the lab
// answers 10% of requests 429 with Retry-After and 5% 503, and its throttle
// (1,200 units per 10 s for 2,000 requests) turns items of batches away:
// every user must end with its value.
func TestFanOutUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out Retry-After")
	}
	const n = 1000
	tn, s, srv, sc := cloudTenant(t, n, labhttp.ServerOptions{ReadUnits: 1200})
	s.SetFaults(labhttp.Faults{Throttle: 0.10, Unavailable: 0.05})
	c := openLab(t, srv.URL, nil)
	start := time.Now()
	if failed := fanOut(t, c, n, 100, 1); failed > 0 {
		t.Fatalf("%d of %d instances failed", failed, n)
	}
	for i := 0; i < n; i++ {
		u, err := tn.CloudUser(fmt.Sprintf("cu%05d@contoso.com", i))
		if err != nil || u.OnPremisesImmutableID != anchorFor(i, 1) {
			t.Fatalf("user %d: immutable ID %q (%v), want %q", i, u.OnPremisesImmutableID, err, anchorFor(i, 1))
		}
	}
	batches, items, retried := c.batch.stats()
	st := sc.snapshot()
	t.Logf("%d users in %s: %d batches carrying %d items (%d sent again after an item-level 429); lab answers by status %v",
		n, time.Since(start).Round(time.Millisecond), batches, items, retried, st)
	if st[429] == 0 || st[503] == 0 || retried == 0 {
		t.Fatalf("the faults did not happen (statuses %v, items retried %d)", st, retried)
	}
}
