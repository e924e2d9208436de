// Package instance runs a lab tenant as a service: its HTTP listener
// (Microsoft Graph, the Exchange admin API and the lab's control API), its
// LDAP listener, and its state file. `rebind lab serve` runs one in its own
// process; `rebind rehearse` runs one inside the rebind process.
package instance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/lab/ldapserver"
	"github.com/rebind-dev/rebind/snapshot"
)

// Client returns an HTTP client that verifies this lab's certificate.
func (in *Instance) Client() *http.Client {
	c, err := control.Client(in.URL, func(string) string { return "" }, time.Minute)
	if err != nil {
		panic(err) // the CA is this process's own
	}
	return c
}

// Options configure an Instance.
type Options struct {
	// Scenario names the scenario to start from (a file in Scenarios);
	// ignored when StatePath names a file that exists.
	Scenario string
	// Scenarios holds the scenario files (lab.ScenarioFiles, or a test's own
	// fs.FS with the same layout).
	Scenarios fs.FS
	// Snapshot, when not "", is a file `rebind snapshot` wrote: the tenant
	// starts as its twin (lab.FromSnapshot) instead of a scenario; ignored
	// when StatePath names a file that exists.
	Snapshot string
	// StatePath, when not "", is where the tenant's state is kept across
	// restarts: read at start when it exists, written after every change
	// through the HTTP API, every SaveEvery while anything changed, and at
	// Close.
	StatePath string
	// Listen is the HTTP address; "127.0.0.1:0" (any free port) when "".
	Listen string
	// LDAPListen is the LDAP address (plain, with StartTLS); "127.0.0.1:0"
	// when "".
	LDAPListen string
	// LDAPSListen is the LDAPS address; "127.0.0.1:0" when "".
	LDAPSListen string
	// PlainHTTP serves the HTTP endpoints without TLS (http://), for a
	// client that cannot be given the lab's CA. Graph itself is only
	// served over HTTPS; by default the lab is too.
	PlainHTTP bool
	// CAFile, when not "", is where Start writes the lab's CA (PEM)
	// before it serves, so that a client started as soon as the lab
	// answers finds it; GET /lab/endpoints reports the path.
	CAFile string
	// Server tunes the HTTP server (throttle limits).
	Server labhttp.ServerOptions
	// SaveEvery is how often changes made over LDAP are saved; 1 s when
	// zero.
	SaveEvery time.Duration
}

// Instance is a running lab tenant.
type Instance struct {
	Tenant *lab.Tenant
	// URL is the HTTPS base URL, e.g. https://127.0.0.1:41234
	// (http:// with PlainHTTP).
	URL string
	// LDAPURL is the LDAP URL, e.g. ldap://127.0.0.1:41235.
	LDAPURL string
	// LDAPSURL is the LDAPS URL, e.g. ldaps://127.0.0.1:41236.
	LDAPSURL string
	// CAPEM is the CA the HTTPS and LDAPS certificates chain to, which
	// GET /lab/endpoints publishes too.
	CAPEM []byte
	// Server is the HTTP handler (throttle limits, faults, apps).
	Server *labhttp.Server

	opts  Options
	http  *http.Server
	ldap  *ldapserver.Server
	done  chan struct{}
	wg    sync.WaitGroup
	saveM sync.Mutex
	last  [32]byte
}

// Start loads the tenant, makes the lab's CA and starts its listeners:
// HTTPS (Graph, Exchange, the identity platform's token endpoint and the
// control API), LDAP with StartTLS, and LDAPS. Only loopback addresses are
// accepted: the lab's credentials are published by its own endpoints.
func Start(opts Options) (*Instance, error) {
	t, err := load(opts)
	if err != nil {
		return nil, err
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.LDAPListen == "" {
		opts.LDAPListen = "127.0.0.1:0"
	}
	if opts.LDAPSListen == "" {
		opts.LDAPSListen = "127.0.0.1:0"
	}
	if opts.SaveEvery == 0 {
		opts.SaveEvery = time.Second
	}
	for _, a := range []string{opts.Listen, opts.LDAPListen, opts.LDAPSListen} {
		if err := loopbackOnly(a); err != nil {
			return nil, err
		}
	}
	ca, err := lab.NewCA()
	if err != nil {
		return nil, err
	}
	in := &Instance{Tenant: t, opts: opts, done: make(chan struct{}), CAPEM: ca.PEM}
	hl, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("lab: listen %s: %w", opts.Listen, err)
	}
	ll, err := net.Listen("tcp", opts.LDAPListen)
	if err != nil {
		hl.Close()
		return nil, fmt.Errorf("lab: listen %s: %w", opts.LDAPListen, err)
	}
	sl, err := net.Listen("tcp", opts.LDAPSListen)
	if err != nil {
		hl.Close()
		ll.Close()
		return nil, fmt.Errorf("lab: listen %s: %w", opts.LDAPSListen, err)
	}
	// One CA for HTTPS, LDAPS and StartTLS, published by /lab/endpoints.
	in.ldap = ldapserver.New(t, ldapserver.Options{TLSConfig: ca.Config})
	srv := labhttp.NewServer(t, opts.Server)
	in.Server = srv
	in.URL = "https://" + hl.Addr().String()
	if opts.PlainHTTP {
		in.URL = "http://" + hl.Addr().String()
	} else {
		hl = tls.NewListener(hl, ca.Config)
	}
	in.LDAPURL = "ldap://" + ll.Addr().String()
	in.LDAPSURL = "ldaps://" + sl.Addr().String()
	srv.SetLDAPAddr(in.LDAPURL)
	srv.SetLDAPSURL(in.LDAPSURL)
	srv.SetCA(ca.PEM)
	if opts.CAFile != "" {
		abs, err := filepath.Abs(opts.CAFile)
		if err == nil {
			err = os.WriteFile(abs, ca.PEM, 0o644)
		}
		if err != nil {
			hl.Close()
			ll.Close()
			sl.Close()
			return nil, fmt.Errorf("lab: write the CA to %s: %w", opts.CAFile, err)
		}
		srv.SetCAFile(abs)
	}
	// This process trusts the lab it started (rebind rehearse, tests):
	// its clients verify the lab against this CA.
	control.Trust(in.URL, ca.PEM)
	bindDN, password := in.ldap.Credentials()
	srv.SetLDAPBind(in.ldap.BaseDN(), bindDN, password)
	// A client has 10 s to send its headers and a minute for the whole
	// request (at most 4 MB of body, which loopback carries in
	// milliseconds), so that slow or stalled clients do not hold the
	// server's goroutines and memory; idle keep-alive connections go after
	// two minutes.
	in.http = &http.Server{Handler: in.saving(srv), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	in.wg.Add(3)
	go func() { defer in.wg.Done(); _ = in.http.Serve(hl) }()
	go func() { defer in.wg.Done(); _ = in.ldap.Serve(ll) }()
	go func() { defer in.wg.Done(); _ = in.ldap.ServeTLS(sl) }()
	if opts.StatePath != "" {
		if err := in.Save(); err != nil {
			in.Close()
			return nil, err
		}
		in.wg.Add(1)
		go in.saveLoop()
	}
	return in, nil
}

func load(opts Options) (*lab.Tenant, error) {
	if opts.StatePath != "" {
		f, err := os.Open(opts.StatePath)
		if err == nil {
			defer f.Close()
			t, err := lab.Load(f)
			if err != nil {
				return nil, fmt.Errorf("lab: state %s: %w", opts.StatePath, err)
			}
			return t, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lab: state %s: %w", opts.StatePath, err)
		}
	}
	if opts.Snapshot != "" {
		s, err := snapshot.ReadFile(opts.Snapshot)
		if err != nil {
			return nil, err
		}
		return lab.FromSnapshot(s)
	}
	if opts.Scenario == "" {
		return nil, errors.New("lab: name a scenario (rebind lab scenarios lists them)")
	}
	return lab.LoadScenario(opts.Scenarios, opts.Scenario)
}

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("lab: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("lab: listen address %q: the lab serves loopback addresses only (127.0.0.1, ::1)", addr)
	}
	return nil
}

// saving saves the state after every request that can have changed it:
// a write that was not refused. A refused one (4xx, 5xx) changed nothing,
// and saving the whole tenant after each of a flood of bad requests would
// be the flood's cost; the save loop catches anything else within
// SaveEvery.
func (in *Instance) saving(h http.Handler) http.Handler {
	if in.opts.StatePath == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead && sw.status < 400 {
			_ = in.Save()
		}
	})
}

// statusWriter records the status of an answer. Unwrap lets
// http.ResponseController reach the connection.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// saveLoop saves changes made over LDAP (or by the clock) periodically.
func (in *Instance) saveLoop() {
	defer in.wg.Done()
	tick := time.NewTicker(in.opts.SaveEvery)
	defer tick.Stop()
	for {
		select {
		case <-in.done:
			return
		case <-tick.C:
			_ = in.Save()
		}
	}
}

// Save writes the state file atomically when the state changed since the
// last save. It does nothing without a StatePath.
func (in *Instance) Save() error {
	if in.opts.StatePath == "" {
		return nil
	}
	in.saveM.Lock()
	defer in.saveM.Unlock()
	var buf bytes.Buffer
	if err := in.Tenant.Save(&buf); err != nil {
		return fmt.Errorf("lab: save state: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if sum == in.last {
		return nil
	}
	dir := filepath.Dir(in.opts.StatePath)
	tmp, err := os.CreateTemp(dir, ".lab-state-*")
	if err != nil {
		return fmt.Errorf("lab: save state: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), in.opts.StatePath)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("lab: save state %s: %w", in.opts.StatePath, err)
	}
	in.last = sum
	return nil
}

// Close stops the listeners and saves the state.
func (in *Instance) Close() error {
	select {
	case <-in.done:
		return nil
	default:
	}
	close(in.done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := in.http.Shutdown(ctx)
	if cerr := in.ldap.Close(); err == nil {
		err = cerr
	}
	in.wg.Wait()
	control.Forget(in.URL)
	if serr := in.Save(); err == nil {
		err = serr
	}
	return err
}
