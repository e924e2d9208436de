package ldapserver

import (
	"log"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jimlambrt/gldap"

	"github.com/rebind-dev/rebind/lab"
)

// directory is what every endpoint serves: the tenant's AD and the
// administrator's credentials.
type directory struct {
	t        *lab.Tenant
	domain   string
	maxPage  int
	bindDN   string
	bindUPN  string
	password string
	log      *log.Logger
}

// connections holds the state of one endpoint's connections by gldap's
// connection ID; gldap forgets nothing about a connection between requests.
type connections struct {
	secure bool // every connection is TLS (the LDAPS endpoint)
	mu     sync.Mutex
	m      map[int]*connState
	// open counts the connections dialed to gldap that it has not yet
	// closed; closing refuses new ones. gldap's Stop waits on a
	// WaitGroup that its accept loop adds to, so it may only be called
	// once no connection is on its way in (sync.WaitGroup: Add with a
	// zero counter must happen before Wait).
	open    int
	closing bool
}

// dial connects to gldap at addr, counting the connection until gldap
// closes it; it fails once the endpoint is closing.
func (c *connections) dial(addr string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.open++
	c.mu.Unlock()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
	}
	return conn, err
}

// drain refuses new connections and waits, at most d, until gldap has
// closed every connection dialed to it (the caller has closed their
// client sides). It reports whether it got there.
func (c *connections) drain(d time.Duration) bool {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	for deadline := time.Now().Add(d); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		open := c.open
		c.mu.Unlock()
		if open <= 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// connState is what a connection has done: bound, started TLS, left paged
// searches open.
type connState struct {
	bound bool
	tls   bool
	pages map[string]*pagedSearch
}

// with runs fn on the state of connection id under the lock.
func (c *connections) with(id int, fn func(*connState)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.m[id]
	if st == nil {
		st = &connState{tls: c.secure}
		c.m[id] = st
	}
	fn(st)
}

// forget drops a closed connection's state, with its open paged searches.
func (c *connections) forget(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	c.open--
}

func (c *connections) bound(id int) (b bool) {
	c.with(id, func(st *connState) { b = st.bound })
	return b
}

// handlers answers one endpoint's requests.
type handlers struct {
	dir        *directory
	conns      *connections
	requireTLS bool
}

// mux routes every operation gldap decodes to its handler; unknown
// extended operations get 53. (gldap drops the connection on the request
// types it does not decode: ModifyDN, Compare, Abandon.) Every handler
// runs under safe.
func (h *handlers) mux() (*gldap.Mux, error) {
	m, err := gldap.NewMux()
	if err != nil {
		return nil, err
	}
	for _, add := range []func() error{
		func() error { return m.Bind(h.safe(gldap.ApplicationBindResponse, h.bind)) },
		func() error {
			return m.ExtendedOperation(h.safe(gldap.ApplicationExtendedResponse, h.startTLS), gldap.ExtendedOperationStartTLS)
		},
		func() error { return m.Search(h.safe(gldap.ApplicationSearchResultDone, h.search)) },
		func() error { return m.Add(h.safe(gldap.ApplicationAddResponse, h.add)) },
		func() error { return m.Modify(h.safe(gldap.ApplicationModifyResponse, h.modify)) },
		func() error { return m.Delete(h.safe(gldap.ApplicationDelResponse, h.del)) },
		func() error { return m.DefaultRoute(h.safe(gldap.ApplicationExtendedResponse, h.unsupported)) },
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// AD's diagnostic texts for the refusals every client meets; clients and
// admins recognise them by their first eight hex digits and "data 52e".
const (
	diagBadCredentials = "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563"
	diagNeedsTLS       = "00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\\TLS are not already active on the connection, data 0, v4563"
	diagNeedsBind      = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
)

func (h *handlers) bind(w *gldap.ResponseWriter, r *gldap.Request) {
	id := r.ConnectionID()
	reply := func(code int, diag string) {
		resp := r.NewBindResponse(gldap.WithResponseCode(code))
		resp.SetDiagnosticMessage(diag)
		_ = w.Write(resp)
	}
	var secure bool
	h.conns.with(id, func(st *connState) { st.bound, secure = false, st.tls })
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		reply(gldap.ResultProtocolError, err.Error())
		return
	}
	name, pass := strings.TrimSpace(m.UserName), string(m.Password)
	switch {
	case name == "" && pass == "":
		// Anonymous: allowed, and good for reading the rootDSE only.
		reply(gldap.ResultSuccess, "")
		return
	case pass == "":
		reply(gldap.ResultUnwillingToPerform, "unauthenticated bind (a DN without a password) is refused")
		return
	case h.requireTLS && !secure:
		reply(gldap.ResultStrongAuthRequired, diagNeedsTLS)
		return
	}
	d := h.dir
	if (!strings.EqualFold(canonicalDN(name), canonicalDN(d.bindDN)) && !strings.EqualFold(name, d.bindUPN)) || pass != d.password {
		reply(gldap.ResultInvalidCredentials, diagBadCredentials)
		return
	}
	h.conns.with(id, func(st *connState) { st.bound = true })
	reply(gldap.ResultSuccess, "")
}

// safe runs a handler so that its panic cannot take the process down
// (gldap runs handlers on goroutines of their own, without recovering):
// the request gets 80 other in its response type app, and the panic is
// logged with its stack. Every panic it meets is a bug to fix where it
// happens.
func (h *handlers) safe(app int, fn gldap.HandlerFunc) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		defer func() {
			if v := recover(); v != nil {
				h.dir.log.Printf("ldapserver: panic serving request %d of connection %d: %v\n%s", r.ID, r.ConnectionID(), v, debug.Stack())
				_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app), gldap.WithResponseCode(gldap.ResultOther),
					gldap.WithDiagnosticMessage("the lab's LDAP server failed on this request")))
			}
		}()
		fn(w, r)
	}
}

// startTLS answers StartTLS. The front end, which sees the successful
// response go by, runs the TLS handshake with the client; from here on the
// connection counts as TLS.
func (h *handlers) startTLS(w *gldap.ResponseWriter, r *gldap.Request) {
	var already bool
	h.conns.with(r.ConnectionID(), func(st *connState) { already = st.tls })
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	if already {
		resp.SetResultCode(gldap.ResultOperationsError)
		resp.SetDiagnosticMessage("TLS is already active on this connection")
		_ = w.Write(resp)
		return
	}
	h.conns.with(r.ConnectionID(), func(st *connState) { st.tls = true })
	_ = w.Write(resp)
}

func (h *handlers) unsupported(w *gldap.ResponseWriter, r *gldap.Request) {
	_ = w.Write(r.NewResponse(gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
		gldap.WithDiagnosticMessage("the lab's LDAP server does not support this operation")))
}

// ldapError is a result code with its diagnostic text.
type ldapError struct {
	code int
	diag string
}

func (e *ldapError) Error() string { return e.diag }

// refuse returns an ldapError.
func refuse(code int, diag string) *ldapError { return &ldapError{code: code, diag: diag} }

// noSuchObject is AD's 32 for dn.
func (d *directory) noSuchObject(dn string) *ldapError {
	return refuse(gldap.ResultNoSuchObject, "0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'"+
		d.domain+"'\n (lab: no object "+dn+")")
}

// requireBind answers operationsError when the connection has not bound.
func (h *handlers) requireBind(r *gldap.Request) *ldapError {
	if h.conns.bound(r.ConnectionID()) {
		return nil
	}
	return refuse(gldap.ResultOperationsError, diagNeedsBind)
}

// checkControls answers 12 unavailableCriticalExtension for a critical
// control the server does not implement. gldap decodes the controls it
// knows without their criticality; those it does not implement here are
// ignored as if not critical.
func checkControls(cs []gldap.Control) *ldapError {
	for _, c := range cs {
		if s, ok := c.(*gldap.ControlString); ok && s.Criticality {
			return refuse(gldap.ResultUnavailableCriticalExtension,
				"00000057: LdapErr: DSID-0C090C8E, comment: Error processing control, data 0, v4563 (lab: critical control "+s.ControlType+" is not supported)")
		}
	}
	return nil
}

// showDeleted reports whether cs carries the Show Deleted control.
func showDeleted(cs []gldap.Control) bool {
	for _, c := range cs {
		if c.GetControlType() == gldap.ControlTypeMicrosoftShowDeleted {
			return true
		}
	}
	return false
}
