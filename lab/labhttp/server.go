package labhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"golang.org/x/sync/semaphore"
)

// ServerOptions configure the lab's HTTP listener.
type ServerOptions struct {
	// ReadUnits is the resource units a client may spend per 10 seconds;
	// 0 picks Graph's identity limit for the tenant's size (3,500 / 5,000 /
	// 8,000 for fewer than 50 / up to 500 / more users).
	ReadUnits int
	// WriteUnits is the writes a client may make per 150 seconds; 0 means
	// 3,000.
	WriteUnits int
	// LDAPAddr is reported by GET /lab/endpoints.
	LDAPAddr string
	// Clock is the wall clock throttling windows run on; nil means
	// time.Now. (Throttling is about the client's real pace, not the
	// tenant's virtual time.)
	Clock func() time.Time
	// ErrorLog receives the lab's own failures (a handler's panic, with
	// its stack); nil means the standard logger.
	ErrorLog *log.Logger
	// Anonymous serves Graph and Exchange without tokens, as the lab did
	// before it had a token model: for tests of behaviour that has
	// nothing to do with authentication. A lab started by `rebind lab
	// serve` or `rebind rehearse` always requires tokens.
	Anonymous bool
	// Apps are app registrations to add to the default one and to those
	// the tenant's scenario declares (State.Apps); an app without a secret
	// gets a random one.
	Apps []lab.App
}

// Server serves the lab tenant over HTTP: Microsoft Graph v1.0 under
// /v1.0/, the Exchange admin API under /adminapi/beta/{tenant}/InvokeCommand
// and the lab's control API under /lab/.
type Server struct {
	t        *lab.Tenant
	opts     ServerOptions
	root     http.Handler
	mux      *http.ServeMux
	graph    *http.ServeMux
	throttle *throttle
	requests requestCounter
	bodies   *semaphore.Weighted

	identity *http.ServeMux
	// auth issues and verifies tokens; nil when Anonymous.
	auth *Authority

	mu       sync.Mutex
	caPEM    []byte
	caFile   string
	ldapsURL string
	faults   Faults
	rnd      *rand.Rand
	ldapBind ldapBind
	// listings are Exchange listings being paged (exoapi.go).
	listings exoListings
}

// ldapBind is how GET /lab/endpoints tells clients to bind over LDAP.
type ldapBind struct{ baseDN, bindDN, password string }

// NewServer returns the HTTP handler of tenant t.
func NewServer(t *lab.Tenant, opts ServerOptions) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.Default()
	}
	if opts.WriteUnits == 0 {
		opts.WriteUnits = 3000
	}
	s := &Server{t: t, opts: opts, mux: http.NewServeMux(), graph: http.NewServeMux(), identity: http.NewServeMux(),
		rnd: rand.New(rand.NewPCG(1, 2)), bodies: semaphore.NewWeighted(bodyBudgetBytes)}
	if !opts.Anonymous {
		a, err := NewAuthority()
		if err != nil {
			// Only a broken crypto/rand gets here.
			panic(fmt.Sprintf("lab: %v", err))
		}
		for _, app := range append(t.Apps(), opts.Apps...) {
			a.Register(app)
		}
		s.auth = a
	}
	s.throttle = newThrottle(opts.Clock, s.limits)
	s.routeGraph()
	s.routeCloudSync()
	graph := s.authenticate(GraphResource, s.counted(s.withFaults(s.throttled(s.graph))))
	s.mux.Handle("/v1.0/", graph)
	s.mux.Handle("/v1.0", graph)
	s.mux.Handle("POST /adminapi/beta/{tenant}/InvokeCommand", s.authenticate(ExchangeResource, s.withFaults(s.exchangeAllowed(http.HandlerFunc(s.invokeCommand)))))
	s.routeControl()
	s.routeIdentity()
	s.mux.Handle("/", s.identityOrNotFound(notFound(s.mux, "/")))
	s.root = s.recoverer(s.dated(canonicalPaths(s.readBodies(s.mux))))
	return s
}

// dated sends the tenant's virtual time as every response's Date header.
// Every HTTP server sends the time it answered in Date (RFC 9110, section
// 6.6.1: "An origin server with a clock ... MUST generate a Date header
// field"), Graph's and Exchange's included; clients that need the
// service's time (how long a deleted user has left in the recycle bin)
// read it there, so the lab's clock reaches them the same way. net/http
// adds its own Date only when the handler set none.
func (s *Server) dated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", s.t.Now().UTC().Format(http.TimeFormat))
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP dispatches to the Graph, Exchange and control routes. Every
// request passes the same guards first: a handler's panic is answered
// (recoverer), paths are canonical (canonicalPaths), bodies are whole and
// at most 4 MB (readBodies).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.root.ServeHTTP(w, r) }

// Authority returns the lab's token authority, nil when Anonymous.
func (s *Server) Authority() *Authority { return s.auth }

// SetCA sets the CA certificate (PEM) GET /lab/endpoints publishes: the
// root the lab's HTTPS and LDAPS certificates chain to.
func (s *Server) SetCA(pem []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caPEM = append([]byte(nil), pem...)
}

// SetCAFile sets the path of the file holding the CA that GET
// /lab/endpoints reports beside its PEM.
func (s *Server) SetCAFile(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caFile = path
}

// SetLDAPSURL sets the LDAPS URL GET /lab/endpoints reports.
func (s *Server) SetLDAPSURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ldapsURL = u
}

// identityOrNotFound serves the identity platform routes, whose first
// segment is the tenant, and passes anything else to fallback.
func (s *Server) identityOrNotFound(fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pat := s.identity.Handler(r); pat != "" {
			s.identity.ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

// SetLDAPAddr sets the LDAP address GET /lab/endpoints reports, for a
// listener started after the server.
func (s *Server) SetLDAPAddr(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.LDAPAddr = addr
}

// SetLDAPBind sets the base DN and credentials GET /lab/endpoints reports
// next to the LDAP address.
func (s *Server) SetLDAPBind(baseDN, bindDN, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ldapBind = ldapBind{baseDN: baseDN, bindDN: bindDN, password: password}
}

// limits returns the read units per 10 s (by the tenant's size unless
// set) and the writes per 150 s.
func (s *Server) limits() (read, write int) {
	s.mu.Lock()
	read, write = s.opts.ReadUnits, s.opts.WriteUnits
	s.mu.Unlock()
	if read > 0 {
		return read, write
	}
	n := s.t.CloudUserCount()
	switch {
	case n < 50:
		return TierUnits["small"], write
	case n <= 500:
		return TierUnits["medium"], write
	}
	return TierUnits["large"], write
}

// TierUnits are the resource unit quotas per 10 s of an application+tenant
// pair by tenant size: "S: 3,500 requests per 10 seconds, M: 5,000 ..., L:
// 8,000 ...", where "S - under 50 users, M - between 50 and 500 users, and
// L - above 500 users" (https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits).
var TierUnits = map[string]int{"small": 3500, "medium": 5000, "large": 8000}

// SetLimits changes the throttling limits; 0 read units means Graph's
// limit for the tenant's size, 0 writes 3,000.
func (s *Server) SetLimits(readUnits, writeUnits int) {
	if writeUnits <= 0 {
		writeUnits = 3000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ReadUnits, s.opts.WriteUnits = readUnits, writeUnits
}

// odataError is Graph's error body.
type odataError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes an OData error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e odataError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

// writeJSON writes v as the JSON body of a response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("lab: response does not marshal: %v", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeModelError maps a model error to Graph's status and code.
func writeModelError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, lab.ErrNotFound):
		writeError(w, http.StatusNotFound, "Request_ResourceNotFound", err.Error())
	case errors.Is(err, lab.ErrRefused), errors.Is(err, lab.ErrConflict), errors.Is(err, lab.ErrInvalid), errors.Is(err, lab.ErrExists):
		writeError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
	}
}

// Faults describes the failures the server injects into Graph and
// Exchange requests, each at its rate (0..1).
type Faults struct {
	// Throttle answers 429 with Retry-After: 1.
	Throttle float64 `json:"429,omitempty"`
	// Unavailable answers 503.
	Unavailable float64 `json:"503,omitempty"`
	// Drop closes the connection without an answer.
	Drop float64 `json:"drop,omitempty"`
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// pickFault draws the fault for one request: "", "429", "503" or "drop".
func (s *Server) pickFault() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.rnd.Float64()
	switch f := s.faults; {
	case x < f.Throttle:
		return "429"
	case x < f.Throttle+f.Unavailable:
		return "503"
	case x < f.Throttle+f.Unavailable+f.Drop:
		return "drop"
	}
	return ""
}

// withFaults injects the configured faults before next runs.
func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.pickFault() {
		case "429":
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests (injected by the lab).")
			return
		case "503":
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is unavailable (injected by the lab).")
			return
		case "drop":
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
				return
			}
			panic(http.ErrAbortHandler)
		}
		next.ServeHTTP(w, r)
	})
}
