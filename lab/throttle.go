package lab

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// throttle counts resource units per client in fixed windows, as Graph's
// identity throttling does: reads per 10 s against a limit that depends on
// the tenant's size, writes per 150 s.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	limits  func() (read, write int)
	clients map[string]*budget
}

// budget is one client's two windows.
type budget struct {
	readStart, writeStart time.Time
	reads, writes         int
}

const (
	readWindow  = 10 * time.Second
	writeWindow = 150 * time.Second
)

func newThrottle(now func() time.Time, limits func() (read, write int)) *throttle {
	return &throttle{now: now, limits: limits, clients: map[string]*budget{}}
}

// take spends cost units (and one write when write is set) for client, or
// returns how long to wait when the window is spent.
func (th *throttle) take(client string, cost int, write bool) (time.Duration, bool) {
	limit, writeLimit := th.limits()
	th.mu.Lock()
	defer th.mu.Unlock()
	now := th.now()
	b := th.clients[client]
	if b == nil {
		b = &budget{readStart: now, writeStart: now}
		th.clients[client] = b
	}
	if now.Sub(b.readStart) >= readWindow {
		b.readStart, b.reads = now, 0
	}
	if now.Sub(b.writeStart) >= writeWindow {
		b.writeStart, b.writes = now, 0
	}
	if b.reads+cost > limit {
		return b.readStart.Add(readWindow).Sub(now), false
	}
	if write && b.writes+1 > writeLimit {
		return b.writeStart.Add(writeWindow).Sub(now), false
	}
	b.reads += cost
	if write {
		b.writes++
	}
	return 0, true
}

// requestCost returns the resource units a Graph request costs: a GET of
// users costs 2, or 1 with $select; anything else 1.
func requestCost(r *http.Request) int {
	p := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if r.Method == http.MethodGet && (p == "/users" || strings.HasPrefix(p, "/users/")) && r.URL.Query().Get("$select") == "" {
		return 2
	}
	return 1
}

// throttleKey is whose budget a request spends: the token's app in the
// token's tenant ("Throttling limits ... per app per tenant", Microsoft
// Graph service-specific throttling limits, identity and access service
// limits, https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits),
// so that two tokens of one app share a budget and two apps do not. A lab
// serving without tokens keys on the Authorization header as sent.
func throttleKey(r *http.Request) string {
	if c := ClaimsFrom(r.Context()); c != nil {
		return c.Tid + "/" + strings.ToLower(c.AppID)
	}
	return r.Header.Get("Authorization")
}

// throttled charges each Graph request (each item of a $batch is charged
// on its own) and answers 429 with Retry-After once a window is spent.
func (s *Server) throttled(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/$batch" {
			next.ServeHTTP(w, r)
			return
		}
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		wait, ok := s.throttle.take(throttleKey(r), requestCost(r), write)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, http.StatusTooManyRequests, "TooManyRequests",
				"Too many requests: the application's resource units for this tenant are spent; retry after the interval in Retry-After.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
