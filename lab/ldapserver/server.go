package ldapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"golang.org/x/sync/semaphore"

	"github.com/rebind-dev/rebind/lab"
)

// DefaultPassword is the lab administrator's password when Options.Password
// is empty. The lab listens on loopback only; this is not a secret.
const DefaultPassword = "Rebind-Lab-1"

// DefaultMaxPageSize is Active Directory's default MaxPageSize policy: the
// most entries one page, or one unpaged search, returns.
const DefaultMaxPageSize = 1000

// ErrClosed is returned by Serve and ServeTLS once Close has been called.
var ErrClosed = errors.New("ldapserver: server closed")

// Options configure a Server. The zero value of each field means its
// documented default.
type Options struct {
	// BindDN is the DN the administrator binds with,
	// "CN=Administrator,CN=Users,<domain DN>" by default. The
	// administrator may also bind as administrator@<DNS domain>.
	BindDN string
	// Password is the administrator's password, DefaultPassword by default.
	Password string
	// TLSConfig serves LDAPS and StartTLS. When nil, New makes a CA and a
	// certificate for 127.0.0.1, ::1, localhost and the lab DC's host name,
	// valid for a year; CAPEM returns the CA to trust.
	TLSConfig *tls.Config
	// RequireTLSForSimpleBind refuses a simple bind on a connection without
	// TLS with 8 strongAuthRequired, as a domain controller that requires
	// LDAP signing does. Off by default so that ldapsearch -x works on
	// loopback.
	RequireTLSForSimpleBind bool
	// MaxPageSize is the most entries a page or an unpaged search returns,
	// DefaultMaxPageSize by default.
	MaxPageSize int
	// MaxReceiveBuffer is the largest LDAP message a client may send,
	// AD's 10,485,760 bytes by default; a larger one ends the session.
	MaxReceiveBuffer int
	// InitRecvTimeout is how long a new connection may wait before its
	// first request, AD's 120 s by default.
	InitRecvTimeout time.Duration
	// MaxConnIdleTime is how long a connection may stay idle, AD's 900 s
	// by default.
	MaxConnIdleTime time.Duration
	// MaxConnections is the most connections served at once, AD's 5000
	// by default; one more drops the connection idle the longest.
	MaxConnections int
	// MaxPoolThreads is how many requests per processor are worked on at
	// once, AD's 4 by default; the others wait.
	MaxPoolThreads int
	// ErrorLog receives the lab's own failures (a handler's panic, with
	// its stack); nil means the standard logger.
	ErrorLog *log.Logger
}

// Server is the lab tenant's LDAP endpoint. Serve and ServeTLS may each be
// called for any number of listeners; Close stops them all.
//
// Each kind of endpoint (plain with StartTLS, LDAPS) runs one gldap
// server on a private loopback port, and Serve relays the connections it
// accepts to it through the front end (frontend.go), which terminates TLS,
// frames messages and applies AD's LDAP policies; gldap behind it decodes
// and answers. (gldap also listens only on an address it picks itself.)
// Close ends every session, including those gldap would wait on.
type Server struct {
	t    *lab.Tenant
	opts Options
	dir  directory
	tls  *tls.Config
	ca   []byte

	pool   chan struct{}       // a slot per request being worked on
	budget *semaphore.Weighted // bytes of large bodies being read
	// ctx ends when Close is called; stop ends it.
	ctx  context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	closed    bool
	plain     *endpoint
	secure    *endpoint
	listeners []net.Listener
	conns     map[net.Conn]struct{}
	sessions  map[*session]struct{}
	addr      net.Addr
	tlsAddr   net.Addr
}

// New returns the LDAP server of tenant t. It serves nothing until Serve,
// ServeTLS or one of the ListenAndServe methods is called.
func New(t *lab.Tenant, opts Options) *Server {
	domain := t.Config().DomainDN
	if opts.BindDN == "" {
		opts.BindDN = "CN=Administrator,CN=Users," + domain
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	orDefault(&opts.MaxPageSize, DefaultMaxPageSize)
	orDefault(&opts.MaxReceiveBuffer, defaultMaxReceiveBuffer)
	orDefault(&opts.InitRecvTimeout, defaultInitRecvTimeout)
	orDefault(&opts.MaxConnIdleTime, defaultMaxConnIdleTime)
	orDefault(&opts.MaxConnections, defaultMaxConnections)
	orDefault(&opts.MaxPoolThreads, defaultMaxPoolThreads)
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.Default()
	}
	s := &Server{t: t, opts: opts, conns: map[net.Conn]struct{}{}, sessions: map[*session]struct{}{},
		pool:   make(chan struct{}, opts.MaxPoolThreads*runtime.GOMAXPROCS(0)),
		budget: semaphore.NewWeighted(int64(bodyBudgetFactor * opts.MaxReceiveBuffer))}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.dir = directory{t: t, domain: domain, maxPage: opts.MaxPageSize, bindDN: opts.BindDN,
		bindUPN: "administrator@" + dnsDomain(domain), password: opts.Password, log: opts.ErrorLog}
	s.tls = opts.TLSConfig
	if s.tls == nil {
		// A CA of its own, made as the lab makes its CA, with the DC's
		// host name among the names it signs for.
		ca, err := lab.NewCA(dcHostName(domain))
		if err != nil {
			// Only a broken crypto/rand or x509 package gets here.
			panic(fmt.Sprintf("ldapserver: make the lab's certificate: %v", err))
		}
		s.tls, s.ca = ca.Config, ca.PEM
	}
	return s
}

// BaseDN returns the domain's DN, the naming context searches start from.
func (s *Server) BaseDN() string { return s.dir.domain }

// Credentials returns the DN and password the administrator binds with.
func (s *Server) Credentials() (bindDN, password string) { return s.opts.BindDN, s.opts.Password }

// orDefault sets *v to def when it is zero or negative (an option left
// unset).
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// CAPEM returns the PEM of the CA that signed the certificate New made, for
// clients to trust; it is nil when Options.TLSConfig was given.
func (s *Server) CAPEM() []byte { return s.ca }

// Addr returns the address of the first listener Serve was given, or nil
// before that.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// TLSAddr returns the address of the first listener ServeTLS was given, or
// nil before that.
func (s *Server) TLSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tlsAddr
}

// URL returns "ldap://host:port" for Addr, or "" before Serve.
func (s *Server) URL() string {
	if a := s.Addr(); a != nil {
		return "ldap://" + a.String()
	}
	return ""
}

// ListenAndServe listens on the TCP address addr and serves plain LDAP
// (with StartTLS) until Close.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ldapserver: listen on %s: %w", addr, err)
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on the TCP address addr and serves LDAPS until
// Close.
func (s *Server) ListenAndServeTLS(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ldapserver: listen on %s: %w", addr, err)
	}
	return s.ServeTLS(l)
}

// Serve accepts plain LDAP connections on l, which may be upgraded with
// StartTLS, until Close; it then returns ErrClosed. It closes l.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts LDAPS connections on l (TLS from the first byte) until
// Close; it then returns ErrClosed. It closes l.
func (s *Server) ServeTLS(l net.Listener) error { return s.serve(l, true) }

func (s *Server) serve(l net.Listener, secure bool) error {
	defer l.Close()
	ep, err := s.endpoint(l, secure)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors (a flood of connections):
				// wait for sessions to end rather than stop serving.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("ldapserver: accept: %w", err)
		}
		ss := s.newSession(c, secure)
		if !s.track(c) || !s.admit(ss) {
			c.Close()
			return ErrClosed
		}
		go s.serveSession(ss, ep)
	}
}

// endpoint registers l and returns the running gldap server of its kind,
// starting it on first use.
func (s *Server) endpoint(l net.Listener, secure bool) (*endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.listeners = append(s.listeners, l)
	slot, addr := &s.plain, &s.addr
	if secure {
		slot, addr = &s.secure, &s.tlsAddr
	}
	if *addr == nil {
		*addr = l.Addr()
	}
	if *slot == nil {
		ep, err := startEndpoint(&s.dir, secure, s.opts.RequireTLSForSimpleBind)
		if err != nil {
			return nil, err
		}
		*slot = ep
	}
	return *slot, nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track records c so that Close can end it; it reports false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// Close stops every listener and connection and the gldap servers behind
// them. Serve and ServeTLS then return ErrClosed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stop()
	ls, eps := s.listeners, []*endpoint{s.plain, s.secure}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	var errs []error
	for _, ep := range eps {
		if ep != nil {
			// gldap's Stop must not race its accept loop taking a
			// connection still on its way in; a connection gldap has not
			// closed after five seconds is stopped anyway.
			ep.conns.drain(5 * time.Second)
			if err := ep.srv.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("ldapserver: stop: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// endpoint is one running gldap server: plain LDAP with StartTLS, or LDAPS.
type endpoint struct {
	srv   *gldap.Server
	addr  string
	conns *connections
}

// startEndpoint runs a gldap server for dir on a free loopback port.
func startEndpoint(dir *directory, secure, requireTLS bool) (*endpoint, error) {
	var last error
	for range 5 {
		ep, err := tryEndpoint(dir, secure, requireTLS)
		if err == nil {
			return ep, nil
		}
		last = err
	}
	return nil, fmt.Errorf("ldapserver: start: %w", last)
}

// tryEndpoint asks the kernel for a free port, frees it and lets gldap
// listen on it; another process may take it in between, so the caller
// retries.
func tryEndpoint(dir *directory, secure, requireTLS bool) (*endpoint, error) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := probe.Addr().String()
	_ = probe.Close()
	conns := &connections{secure: secure, m: map[int]*connState{}}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(conns.forget))
	if err != nil {
		return nil, err
	}
	h := &handlers{dir: dir, conns: conns, requireTLS: requireTLS}
	mux, err := h.mux()
	if err != nil {
		return nil, err
	}
	if err := srv.Router(mux); err != nil {
		return nil, err
	}
	// gldap speaks plain LDAP: the front end terminates TLS, and the
	// connections of the LDAPS endpoint are marked secure instead.
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(addr) }()
	for !srv.Ready() {
		select {
		case err := <-errc:
			return nil, err
		case <-time.After(time.Millisecond):
		}
	}
	// Ready turns true before gldap learns whether it could listen.
	select {
	case err := <-errc:
		if err == nil {
			err = errors.New("gldap stopped at once")
		}
		return nil, err
	case <-time.After(20 * time.Millisecond):
	}
	c, err := conns.dial(addr, time.Second)
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	_ = c.Close()
	return &endpoint{srv: srv, addr: addr, conns: conns}, nil
}

// dnsDomain turns "DC=corp,DC=example,DC=com" into "corp.example.com".
func dnsDomain(dn string) string {
	var parts []string
	for _, rdn := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if ok && strings.EqualFold(k, "DC") {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ".")
}

// dcHostName is the lab domain controller's host name, as the rootDSE's
// dnsHostName says.
func dcHostName(domainDN string) string { return "lab-dc01." + dnsDomain(domainDN) }
