package labhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
)

// routeControl registers the lab's own API: run a sync cycle, move the
// clock, dump the state, inject faults, report the endpoints.
func (s *Server) routeControl() {
	s.mux.HandleFunc("POST /lab/sync", s.controlSync)
	s.mux.HandleFunc("GET /lab/sync", s.controlLastSync)
	s.mux.HandleFunc("GET /lab/scheduler", s.controlScheduler)
	s.mux.HandleFunc("POST /lab/scheduler", s.controlScheduler)
	s.mux.HandleFunc("POST /lab/clock", s.controlClock)
	s.mux.HandleFunc("GET /lab/clock", s.controlClock)
	s.mux.HandleFunc("GET /lab/dump", s.controlDump)
	s.mux.HandleFunc("POST /lab/faults", s.controlFaults)
	s.mux.HandleFunc("GET /lab/faults", s.controlFaults)
	s.mux.HandleFunc("GET /lab/endpoints", s.controlEndpoints)
	s.mux.HandleFunc("GET /lab/throttle", s.controlThrottle)
	s.mux.HandleFunc("POST /lab/throttle", s.controlThrottle)
	s.mux.HandleFunc("GET /lab/requests", s.controlRequests)
	s.mux.HandleFunc("POST /lab/connect/powershell", s.controlConnectShell)
	s.mux.HandleFunc("POST /lab/exchange/powershell", s.controlExchangeShell)
	s.mux.HandleFunc("POST /lab/token", s.controlToken)
}

// throttleLimits is the body of /lab/throttle.
type throttleLimits struct {
	// ReadUnits per 10 s; 0 means Graph's limit for the tenant's size.
	ReadUnits int `json:"readUnits"`
	// WriteUnits per 150 s.
	WriteUnits int `json:"writeUnits"`
	// Tier names a tenant size whose resource unit quota ReadUnits takes
	// (small, medium, large; see TierUnits); when reading, the size whose
	// quota ReadUnits is, if any.
	Tier string `json:"tier,omitempty"`
}

// controlThrottle reads or sets the throttling limits:
// POST /lab/throttle {"readUnits":100,"writeUnits":10} or {"tier":"small"}.
func (s *Server) controlThrottle(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var l throttleLimits
		if err := decodeBody(r, &l); err != nil || l.ReadUnits < 0 || l.WriteUnits < 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "throttle wants {\"readUnits\":n,\"writeUnits\":n} with n >= 0, or {\"tier\":\"small|medium|large\"}")
			return
		}
		if l.Tier != "" {
			units, ok := TierUnits[l.Tier]
			if !ok || l.ReadUnits != 0 {
				writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("throttle: tier %q is not one of small, medium, large, or comes with readUnits", l.Tier))
				return
			}
			l.ReadUnits = units
		}
		s.SetLimits(l.ReadUnits, l.WriteUnits)
	}
	read, write := s.limits()
	l := throttleLimits{ReadUnits: read, WriteUnits: write}
	for name, units := range TierUnits {
		if units == read {
			l.Tier = name
		}
	}
	writeJSON(w, http.StatusOK, l)
}

// controlRequests answers GET /lab/requests: the Graph requests the lab
// has counted and the 429s its throttle answered,
// {"graph":n,"graphByClient":{"tenant/app":n},"throttled":n,"throttledByClient":{...},"units":n,"writes":n}:
// units and writes are those charged to the requests (and $batch items)
// let through.
func (s *Server) controlRequests(w http.ResponseWriter, r *http.Request) {
	total, by := s.GraphRequests()
	throttled, tby := s.GraphThrottled()
	writeJSON(w, http.StatusOK, map[string]any{"graph": total, "graphByClient": by, "throttled": throttled, "throttledByClient": tby,
		"units": s.GraphUnits(), "writes": s.GraphWrites()})
}

// controlSync runs a cycle: POST /lab/sync?policy=Delta|Initial (Delta by
// default). A cycle stopped by the deletion threshold still answers 200
// with its status; a tenant with sync off answers 409.
func (s *Server) controlSync(w http.ResponseWriter, r *http.Request) {
	policy := lab.Delta
	if p := r.URL.Query().Get("policy"); p != "" {
		var err error
		if policy, err = lab.ParseSyncPolicy(p); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
	}
	res, err := s.t.SyncCycle(policy)
	if writeSyncError(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeSyncError answers a cycle that did not run: 409 while the tenant's
// sync is off, the model's error otherwise. A cycle the deletion threshold
// stopped did run (it reports so), and is not an error here. It reports
// whether it answered.
func writeSyncError(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, lab.ErrSyncOff):
		writeError(w, http.StatusConflict, "SyncOff", err.Error())
	case err != nil && !errors.Is(err, lab.ErrDeletionThreshold):
		writeModelError(w, err)
	default:
		return false
	}
	return true
}

func (s *Server) controlLastSync(w http.ResponseWriter, r *http.Request) {
	res, ok := s.t.LastSync()
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "No sync cycle has run.")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// controlClock reports the virtual time; POST with ?advance=72h moves it.
func (s *Server) controlClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		d, err := time.ParseDuration(r.URL.Query().Get("advance"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "advance wants a duration such as 72h: "+err.Error())
			return
		}
		if err := s.t.Advance(d); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]time.Time{"now": s.t.Now()})
}

// controlDump writes the whole state, a valid scenario file.
func (s *Server) controlDump(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err := s.t.Save(w); err != nil {
		// The status line is gone already; the client sees a cut body.
		panic(http.ErrAbortHandler)
	}
}

// controlFaults reads or sets the injected faults. POST takes a JSON body
// {"429":0.1,"503":0.05,"drop":0.01} or the same as query parameters.
func (s *Server) controlFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var f Faults
		q := r.URL.Query()
		if len(q) > 0 {
			for key, dst := range map[string]*float64{"429": &f.Throttle, "503": &f.Unavailable, "drop": &f.Drop} {
				if v := q.Get(key); v != "" {
					x, err := strconv.ParseFloat(v, 64)
					if err != nil {
						writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("fault rate %s=%q is not a number", key, v))
						return
					}
					*dst = x
				}
			}
		} else if err := decodeBody(r, &f); err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "faults want {\"429\":rate,\"503\":rate,\"drop\":rate}: "+err.Error())
			return
		}
		if f.Throttle < 0 || f.Unavailable < 0 || f.Drop < 0 || f.Throttle+f.Unavailable+f.Drop > 1 {
			writeError(w, http.StatusBadRequest, "BadRequest", "fault rates must be between 0 and 1 and add up to at most 1")
			return
		}
		s.SetFaults(f)
	}
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, f)
}

// Endpoints is the answer of GET /lab/endpoints; its clients read the
// same type.
type Endpoints = control.Endpoints

func (s *Server) controlEndpoints(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	dom := s.t.Config().TenantDomain
	s.mu.Lock()
	ldap, bind, ldaps, ca, caFile := s.opts.LDAPAddr, s.ldapBind, s.ldapsURL, string(s.caPEM), s.caFile
	s.mu.Unlock()
	tid := s.t.Organization().ID
	ep := Endpoints{Graph: base + "/v1.0", Exchange: base + "/adminapi/beta/" + dom + "/InvokeCommand",
		Control: base + "/lab", LDAP: ldap, LDAPBaseDN: bind.baseDN, LDAPBindDN: bind.bindDN, LDAPPassword: bind.password,
		LDAPS: ldaps, Tenant: dom, TenantID: tid, CA: ca, CAFile: caFile}
	if s.auth != nil {
		app, _ := s.auth.App(lab.DefaultAppID)
		ep.Authority, ep.TokenEndpoint = base+"/", base+"/"+tid+"/oauth2/v2.0/token"
		ep.ClientID, ep.ClientSecret = app.ClientID, app.Secret
	}
	writeJSON(w, http.StatusOK, ep)
}

// controlScheduler serves GET /lab/scheduler (Get-ADSyncScheduler) and
// POST /lab/scheduler?syncCycleEnabled=true|false (Set-ADSyncScheduler
// -SyncCycleEnabled).
func (s *Server) controlScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		on, err := strconv.ParseBool(r.URL.Query().Get("syncCycleEnabled"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", "scheduler wants ?syncCycleEnabled=true or false")
			return
		}
		s.t.SetSchedulerEnabled(on)
	}
	writeJSON(w, http.StatusOK, s.t.Scheduler())
}
