package labhttp

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

// requestCost returns the resource units and the writes a Graph request
// costs, by the rules of "Microsoft Graph service-specific throttling
// limits", section "Identity and access service limits"
// (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits):
// the base cost of the page's table ("Any requests not listed have a base
// cost of 1"; POST, PATCH, PUT and DELETE not listed write 1), "Using
// $select decreases cost by 1", "Using $expand increases cost by 1",
// "Using $top with a value of less than 20 decreases cost by 1", and "A
// request cost can never be lower than 1. Any request cost that applies to
// a request path starting with me/ also applies to equivalent requests
// starting with users/{id | userPrincipalName}/." The table's rows are
// those of the paths the lab serves, or might be asked for: GET users
// (the collection) 2, GET subscribedSkus 3, GET applications 2,
// GET servicePrincipals/{id}/appRoleAssignments 2, POST
// directoryObjects/getByIds 3 (no write), GET me/memberOf and
// me/transitiveMemberOf 2.
func requestCost(r *http.Request) (units int, write bool) {
	p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1.0"), "/")
	segs := strings.Split(p, "/")
	if len(segs) > 2 && segs[0] == "users" {
		segs = append([]string{"me"}, segs[2:]...)
	}
	write = r.Method != http.MethodGet && r.Method != http.MethodHead
	units = 1
	key := r.Method + " " + strings.Join(segs, "/")
	if len(segs) == 3 && segs[0] == "servicePrincipals" {
		key = r.Method + " servicePrincipals/{id}/" + segs[2]
	}
	switch key {
	case "GET users", "GET applications", "GET servicePrincipals/{id}/appRoleAssignments",
		"GET me/memberOf", "GET me/transitiveMemberOf":
		units = 2
	case "GET subscribedSkus":
		units = 3
	case "POST directoryObjects/getByIds":
		units, write = 3, false
	}
	q := r.URL.Query()
	if q.Get("$select") != "" {
		units--
	}
	if q.Get("$expand") != "" {
		units++
	}
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < 20 {
		units--
	}
	return max(units, 1), write
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
		cost, write := requestCost(r)
		key := throttleKey(r)
		wait, ok := s.throttle.take(key, cost, write)
		if !ok {
			s.countThrottled(key)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, http.StatusTooManyRequests, "TooManyRequests",
				"Too many requests: the application's resource units for this tenant are spent; retry after the interval in Retry-After.")
			return
		}
		// "x-ms-resource-unit - Indicates the resource unit used for this
		// request" (the page's "Regular responses requests" headers).
		w.Header().Set("x-ms-resource-unit", strconv.Itoa(cost))
		s.countUnits(cost, write)
		next.ServeHTTP(w, r)
	})
}

// requestCounter counts the Graph requests each client sent (a $batch is
// one request, whatever it carries), so that a test or a benchmark can
// read what a run spent: GraphRequests, or GET /lab/requests.
type requestCounter struct {
	mu       sync.Mutex
	requests tally
	// throttled counts the 429s the throttle answered (a $batch item's
	// included); injected faults are not counted.
	throttled tally
	// units counts the resource units charged to requests let through;
	// writes, the writes among them.
	units, writes int64
}

// tally is a count by client and in all.
type tally struct {
	by  map[string]int64
	all int64
}

func (t *tally) add(client string) {
	if t.by == nil {
		t.by = map[string]int64{}
	}
	t.by[client]++
	t.all++
}

// count adds one for client to t, one of c's tallies, under c's lock.
func (c *requestCounter) count(t *tally, client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.add(client)
}

// read returns a copy of t, one of c's tallies, under c's lock.
func (c *requestCounter) read(t *tally) (int64, map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.read()
}

func (t *tally) read() (int64, map[string]int64) {
	by := make(map[string]int64, len(t.by))
	for k, v := range t.by {
		by[k] = v
	}
	return t.all, by
}

// counted counts each Graph request that reaches the lab with a valid
// token; the items of a $batch, which run through throttled on their own,
// are not requests of their own.
func (s *Server) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.countRequest(throttleKey(r))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) countRequest(client string) { s.requests.count(&s.requests.requests, client) }

// GraphRequests returns how many Graph requests the lab has answered (or
// refused with 429) since it started: in all, and by client (the token's
// tenant and app, as throttling keys them). A $batch counts once.
func (s *Server) GraphRequests() (total int64, byClient map[string]int64) {
	return s.requests.read(&s.requests.requests)
}

func (s *Server) countThrottled(client string) { s.requests.count(&s.requests.throttled, client) }

// GraphThrottled returns how many Graph requests (and $batch items) the
// lab's throttle answered 429 since it started, in all and by client.
func (s *Server) GraphThrottled() (total int64, byClient map[string]int64) {
	return s.requests.read(&s.requests.throttled)
}

func (s *Server) countUnits(n int, write bool) {
	c := &s.requests
	c.mu.Lock()
	c.units += int64(n)
	if write {
		c.writes++
	}
	c.mu.Unlock()
}

// GraphUnits returns the resource units the lab's throttle has charged to
// the requests (and $batch items) it let through since it started.
func (s *Server) GraphUnits() int64 {
	c := &s.requests
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units
}

// GraphWrites returns the writes (each charged to the write quota) the
// lab's throttle has let through since it started, a $batch's items
// counted one by one: a benchmark that applies n changes reads here that
// it wrote n times, not more.
func (s *Server) GraphWrites() int64 {
	c := &s.requests
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}
