package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/steps"
)

// bucketServer answers 429 with Retry-After once a client has spent its
// bucket: limit units that refill at limit per window, each request
// costing one; the "token bucket algorithm" Graph's identity throttling
// is documented to use
// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
type bucketServer struct {
	limit  float64
	window time.Duration

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	served    int
	throttled int
}

func (s *bucketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := time.Now()
	if s.last.IsZero() {
		s.tokens = s.limit
	} else {
		s.tokens = min(s.limit, s.tokens+now.Sub(s.last).Seconds()*s.limit/s.window.Seconds())
	}
	s.last = now
	if s.tokens < 1 {
		s.throttled++
		s.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	s.tokens--
	s.served++
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestPacerKeepsUnderTheBudget sends as fast as 16 workers can through
// one pacer of 200 units per second: the server never throttles, and the
// rate reached is at least 90 % of the budget.
func TestPacerKeepsUnderTheBudget(t *testing.T) {
	ws := &bucketServer{limit: 200, window: time.Second}
	srv := httptest.NewServer(ws)
	defer srv.Close()
	p := NewPacer(steps.Budget{Units: 200, Window: time.Second}, func(*http.Request) (int, int) { return 1, 0 })
	hc := &http.Client{Transport: p.Transport(nil)}
	const run = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	start := time.Now()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.throttled != 0 {
		t.Fatalf("the server throttled %d of %d requests", ws.throttled, ws.served+ws.throttled)
	}
	rate := float64(ws.served) / elapsed
	if rate < 0.9*200 || rate > 200 {
		t.Fatalf("%d requests in %.2f s: %.0f/s, want 180-200/s", ws.served, elapsed, rate)
	}
	// Requests in flight when the run ended were sent, not served.
	if st := p.Stats(); st.Requests < int64(ws.served) || st.Requests > int64(ws.served)+16 || st.Units != st.Requests || st.Throttled != 0 {
		t.Fatalf("stats %+v, served %d", st, ws.served)
	}
}

// TestPacerPausesOnRetryAfter: one answer with Retry-After holds back
// every request of the pacer, not only the one refused.
func TestPacerPausesOnRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if first {
			first = false
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	p := NewPacer(steps.Budget{Units: 1000, Window: time.Second}, nil)
	hc := &http.Client{Transport: p.Transport(nil)}
	get := func() {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
	}
	get() // 429, Retry-After: 1
	refused := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); get() }()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 9 {
		t.Fatalf("%d requests reached the server, want 9", len(times))
	}
	for _, at := range times[1:] {
		if d := at.Sub(refused); d < 900*time.Millisecond {
			t.Fatalf("a request left %s after the 429's Retry-After of 1 s", d)
		}
	}
	if st := p.Stats(); st.Throttled != 1 {
		t.Fatalf("throttled = %d, want 1", st.Throttled)
	}
}

// TestPacerSplitsLargeCosts: a request costing more than the bucket holds
// (a batch of 20 writes under a small budget) waits for its cost in pieces
// rather than failing.
func TestPacerSplitsLargeCosts(t *testing.T) {
	p := NewPacer(steps.Budget{Writes: 100, WriteWindow: 10 * time.Second}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	// The bucket holds 2 writes and refills 9.5 a second: 20 take ~1.9 s.
	if err := p.Wait(ctx, 1, 20); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond || d > 3*time.Second {
		t.Fatalf("20 writes waited %s, want about 1.9 s", d)
	}
}
