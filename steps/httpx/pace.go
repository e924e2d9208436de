package httpx

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebind-dev/rebind/steps"
)

// Pacing keeps a client under its budget: the limiter refills at
// PaceShare of the documented rate and holds at most BurstShare of one
// window, so that any stretch of one window spends at most
// BurstShare + PaceShare = 97 % of what the service allows in it,
// however the service places its windows; the 3 % left covers requests
// that reach the service later than they were let go (at the small
// tier, 0.3 s of them).
const (
	PaceShare  = 0.95
	BurstShare = 0.02
)

// Pacer spends a client's budget (steps.Budget) before each request: one
// token bucket of resource units and one of writes
// (golang.org/x/time/rate), shared by every goroutine using the client, so
// that all the workers of a fan-out together stay under it. An answer that
// asks the client to wait (429 or 503 with Retry-After, as Graph's
// throttling guidance describes, https://learn.microsoft.com/graph/throttling)
// pauses the whole bucket until then: every request waits, not only the
// one that was refused. Retrying that request is left to whoever retries
// (the Graph SDK's retry handler, a step's own loop); the pacer only
// holds the others back.
type Pacer struct {
	cost func(*http.Request) (units, writes int)

	mu     sync.Mutex
	budget steps.Budget
	units  *rate.Limiter // nil: units unmetered
	writes *rate.Limiter // nil: writes unmetered
	paused time.Time     // no request leaves before it

	requests, spentUnits, spentWrites, throttled atomic.Int64
	waited                                       atomic.Int64 // nanoseconds spent waiting
}

// PacerStats is what a pacer counted since it was made.
type PacerStats struct {
	// Requests, Units and Writes are what the requests that left spent.
	Requests, Units, Writes int64
	// Throttled counts the answers that asked to wait (429, or 503 with
	// Retry-After).
	Throttled int64
	// Waited is the time requests spent waiting for the budget, summed
	// over the requests.
	Waited time.Duration
}

// NewPacer paces under b. cost tells what one request spends; nil means
// one unit, and one write for a method other than GET and HEAD.
func NewPacer(b steps.Budget, cost func(*http.Request) (units, writes int)) *Pacer {
	if cost == nil {
		cost = func(r *http.Request) (int, int) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return 1, 0
			}
			return 1, 1
		}
	}
	p := &Pacer{cost: cost}
	p.SetBudget(b)
	return p
}

// SetBudget changes the budget the pacer keeps to from now on (a tier
// learned later, or a test's small one).
func (p *Pacer) SetBudget(b steps.Budget) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = b
	p.units = limiter(b.Units, b.Window)
	p.writes = limiter(b.Writes, b.WriteWindow)
}

func (p *Pacer) limiters() (units, writes *rate.Limiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.units, p.writes
}

// limiter is a bucket refilled at PaceShare of n per window, holding at
// most BurstShare of n (at least one).
func limiter(n int64, window time.Duration) *rate.Limiter {
	if n <= 0 || window <= 0 {
		return nil
	}
	perSecond := PaceShare * float64(n) / window.Seconds()
	burst := max(1, int(BurstShare*float64(n)))
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

// Budget is the budget the pacer keeps to.
func (p *Pacer) Budget() steps.Budget {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.budget
}

// Wait blocks until units and writes may be spent, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, units, writes int) error {
	start := time.Now()
	defer func() { p.waited.Add(int64(time.Since(start))) }()
	if err := p.waitPause(ctx); err != nil {
		return err
	}
	unitsL, writesL := p.limiters()
	if err := take(ctx, writesL, writes); err != nil {
		return err
	}
	if err := take(ctx, unitsL, units); err != nil {
		return err
	}
	// A pause may have begun while this request waited for tokens.
	return p.waitPause(ctx)
}

// take waits for n tokens of l, in pieces no larger than its burst (a
// batch of twenty writes under a small budget).
func take(ctx context.Context, l *rate.Limiter, n int) error {
	if l == nil {
		return nil
	}
	for n > 0 {
		k := min(n, l.Burst())
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (p *Pacer) waitPause(ctx context.Context) error {
	for {
		p.mu.Lock()
		d := time.Until(p.paused)
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Pause holds every request back for d from now (a Retry-After), unless
// a longer pause is already running.
func (p *Pacer) Pause(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	p.mu.Lock()
	if until.After(p.paused) {
		p.paused = until
	}
	p.mu.Unlock()
}

// Throttled counts an answer that asked to wait d and pauses the bucket
// for d, unless the pacer has no budget at all (it then only counts:
// without a budget, each request's own retry waits for itself). Callers
// that read answers the transport does not see (the items of a JSON
// batch) report them here.
func (p *Pacer) Throttled(d time.Duration) {
	p.throttled.Add(1)
	if u, w := p.limiters(); u != nil || w != nil {
		p.Pause(d)
	}
}

// Stats returns what the pacer counted.
func (p *Pacer) Stats() PacerStats {
	return PacerStats{Requests: p.requests.Load(), Units: p.spentUnits.Load(), Writes: p.spentWrites.Load(),
		Throttled: p.throttled.Load(), Waited: time.Duration(p.waited.Load())}
}

// Transport paces every request sent through parent: it spends the
// request's cost first, and pauses the bucket on an answer that asks to
// wait. It sits below any retry handler, so that a request sent again is
// paced (and charged) again, as the service charges it.
func (p *Pacer) Transport(parent http.RoundTripper) http.RoundTripper {
	if parent == nil {
		parent = http.DefaultTransport
	}
	return &pacedTransport{p: p, parent: parent}
}

type pacedTransport struct {
	p      *Pacer
	parent http.RoundTripper
}

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	units, writes := t.p.cost(req)
	if err := t.p.Wait(req.Context(), units, writes); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	t.p.requests.Add(1)
	t.p.spentUnits.Add(int64(units))
	t.p.spentWrites.Add(int64(writes))
	resp, err := t.parent.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		ra := resp.Header.Get("Retry-After")
		if ra != "" || resp.StatusCode == http.StatusTooManyRequests {
			t.p.Throttled(ParseRetryAfter(ra))
		}
	}
	return resp, nil
}
