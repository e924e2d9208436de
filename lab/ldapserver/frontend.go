package ldapserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jimlambrt/gldap"
)

// The front end is what a domain controller's LDAP service does before a
// request reaches the directory, and what gldap does not: it terminates
// TLS (LDAPS, StartTLS), reads each message whole and checks its framing,
// applies AD's LDAP policies, and keeps the decoding that gldap does after
// it within bounds. Every client connection is a session relayed to a
// gldap server on a private loopback port.
//
// AD's policies, with their defaults, are from "View and set LDAP policy
// in Active Directory by using Ntdsutil.exe"
// (https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/view-set-ldap-policy-using-ntdsutil)
// and MS-ADTS 3.1.1.3.4.6 "LDAP Policies"
// (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/3f0137a1-63df-400c-bf97-e1040f055a99):
//
//   - MaxReceiveBuffer (10,485,760 bytes, the value of the page's sample
//     policy): a larger message ends the session. What a DC sends first
//     is not documented; the lab sends a Notice of Disconnection with
//     adminLimitExceeded.
//   - InitRecvTimeout (120 s): "If the client does not send the first
//     request in this amount of time, the server disconnects the client."
//   - MaxConnIdleTime (900 s): "If a connection is idle for more than this
//     time, the LDAP server returns an LDAP disconnect notification" (the
//     result code is not documented; adminLimitExceeded here).
//   - MaxConnections (5000): "If a connection comes in after the domain
//     controller reaches this limit, the domain controller drops another
//     connection"; the lab drops the one idle the longest.
//   - MaxPoolThreads (4 per processor): the threads that "can work on LDAP
//     requests at the same time"; further requests wait for one.
//
// A message the front end cannot frame (BER it cannot read, not an
// LDAPMessage, an operation that is not a request) ends the session with a
// Notice of Disconnection carrying protocolError, as RFC 4511 section
// 4.1.1 has a server do. Limits of the lab's own protect gldap's decoding,
// which keeps a tree node per BER element and a copy of each constructed
// element's contents: a message nested deeper than maxDepth, with more
// than maxElements elements, or whose decoding would hold more than
// decodeCostFactor times MaxReceiveBuffer is answered with its
// operation's response and adminLimitExceeded (AD documents no such
// limits), and the session goes on. Bodies larger than smallMessage are
// read and worked on within a shared budget of bodyBudgetFactor times
// MaxReceiveBuffer, so that many connections sending large messages at
// once cannot take the lab's memory (decoding one costs several times its
// size), and each must arrive within bodyTimeout once its header has. Writes to a client that does not read fail after writeTimeout,
// ending its session and freeing what it held.
const (
	defaultMaxReceiveBuffer = 10 << 20
	defaultInitRecvTimeout  = 120 * time.Second
	defaultMaxConnIdleTime  = 900 * time.Second
	defaultMaxConnections   = 5000
	defaultMaxPoolThreads   = 4

	maxDepth         = 100
	maxElements      = 100_000
	decodeCostFactor = 8
	smallMessage     = 64 << 10
	bodyBudgetFactor = 2
	bodyTimeout      = 30 * time.Second
	writeTimeout     = 2 * time.Minute
)

// session is one client connection and its relay to gldap.
type session struct {
	s       *Server
	client  net.Conn // as accepted
	secure  bool     // LDAPS: TLS from the first byte
	backend net.Conn

	lastActive atomic.Int64 // UnixNano of the client's last message

	wmu sync.Mutex // serialises writes to the client
	out net.Conn   // the client, or its TLS connection once started

	mu       sync.Mutex
	pending  map[int]func()  // what each outstanding request holds, to free
	startTLS int             // the StartTLS request in flight, or -1
	unbound  bool            // the client sent an unbind request
	ending   bool            // the client loop has ended the session
	reader   *bufio.Reader   // what the client loop reads, for StartTLS
	upgraded chan tlsUpgrade // from the backend loop to the client loop
}

// newSession returns the session of a client connection.
func (s *Server) newSession(c net.Conn, secure bool) *session {
	return &session{s: s, client: c, secure: secure, pending: map[int]func(){}, startTLS: -1,
		upgraded: make(chan tlsUpgrade, 1)}
}

// tlsUpgrade is how a StartTLS request ended: conn is the TLS connection
// when it succeeded; err ends the session.
type tlsUpgrade struct {
	conn net.Conn
	err  error
}

// serveSession runs a session until either side ends it.
func (s *Server) serveSession(ss *session, ep *endpoint) {
	defer s.endSession(ss)
	conn := ss.client
	if ss.secure {
		tc := tls.Server(conn, s.tls)
		_ = tc.SetDeadline(time.Now().Add(s.opts.InitRecvTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		conn = tc
	}
	ss.out = conn
	b, err := ep.conns.dial(ep.addr, 10*time.Second)
	if err != nil {
		return
	}
	if !s.track(b) {
		b.Close()
		return
	}
	ss.backend = b
	done := make(chan struct{})
	go func() {
		defer close(done)
		ss.fromBackend()
	}()
	ss.fromClient(conn)
	ss.mu.Lock()
	ss.ending = true
	ss.mu.Unlock()
	// The client is done: let gldap finish what it was doing and close.
	if tc, ok := b.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// endSession closes both sides and frees what the session held.
func (s *Server) endSession(ss *session) {
	ss.client.Close()
	if ss.backend != nil {
		ss.backend.Close()
		s.untrack(ss.backend)
	}
	s.untrack(ss.client)
	ss.mu.Lock()
	held := ss.pending
	ss.pending = nil
	ss.mu.Unlock()
	for _, free := range held {
		free()
	}
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
}

// admit registers a new session, dropping the longest idle one when the
// server holds MaxConnections already; it reports false once closed.
func (s *Server) admit(ss *session) bool {
	ss.lastActive.Store(time.Now().UnixNano())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	var drop *session
	if len(s.sessions) >= s.opts.MaxConnections {
		for o := range s.sessions {
			if drop == nil || o.lastActive.Load() < drop.lastActive.Load() {
				drop = o
			}
		}
		delete(s.sessions, drop)
	}
	s.sessions[ss] = struct{}{}
	s.mu.Unlock()
	if drop != nil {
		drop.client.Close()
	}
	return true
}

// send writes an encoded message to the client.
func (ss *session) send(msg []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.out.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := ss.out.Write(msg)
	return err
}

// disconnect sends a Notice of Disconnection; the caller ends the session.
func (ss *session) disconnect(code int, diag string) {
	_ = ss.send(noticeOfDisconnection(code, diag))
}

// fromClient reads the client's messages, checks them and passes them to
// gldap, until the client leaves or breaks a rule that ends the session.
func (ss *session) fromClient(conn net.Conn) {
	s := ss.s
	r := bufio.NewReader(conn)
	lim := decodeLimits{depth: maxDepth, elements: maxElements, cost: decodeCostFactor * s.opts.MaxReceiveBuffer}
	for first := true; ; first = false {
		wait := s.opts.MaxConnIdleTime
		if first {
			wait = s.opts.InitRecvTimeout
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		tag, length, hdr, err := readHeader(r, s.opts.MaxReceiveBuffer)
		var ne net.Error
		switch {
		case err == nil && tag != tagSequence:
			ss.disconnect(gldap.ResultProtocolError, "the message is not an LDAPMessage SEQUENCE")
			return
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout() && first:
			return // InitRecvTimeout: disconnected without a word
		case errors.As(err, &ne) && ne.Timeout():
			ss.disconnect(gldap.ResultAdminLimitExceeded, fmt.Sprintf("the connection was idle for more than MaxConnIdleTime (%s)", s.opts.MaxConnIdleTime))
			return
		case errors.Is(err, errTooLarge):
			ss.disconnect(gldap.ResultAdminLimitExceeded, fmt.Sprintf("the request is larger than MaxReceiveBuffer (%d bytes)", s.opts.MaxReceiveBuffer))
			return
		case errors.Is(err, errMalformed):
			ss.disconnect(gldap.ResultProtocolError, err.Error())
			return
		default:
			return // the client left
		}
		msg, release, ok := ss.readBody(conn, r, hdr, length)
		if !ok {
			return
		}
		ss.lastActive.Store(time.Now().UnixNano())
		ok, startTLS := ss.forward(msg, len(hdr), lim, r, release)
		if !ok {
			return
		}
		if startTLS {
			// The backend loop answers and, on success, runs the
			// handshake on what this loop reads; wait for it.
			up := <-ss.upgraded
			if up.err != nil {
				return
			}
			if up.conn != nil {
				conn, r = up.conn, bufio.NewReader(up.conn)
			}
		}
	}
}

// readBody reads the rest of a message whose header is hdr, within
// bodyTimeout; a large one first takes its size from the body budget,
// which release gives back once the request is done with.
func (ss *session) readBody(conn net.Conn, r *bufio.Reader, hdr []byte, length int) (msg []byte, release func(), ok bool) {
	s := ss.s
	release = func() {}
	if length > smallMessage {
		if s.budget.Acquire(s.ctx, int64(length)) != nil {
			return nil, nil, false
		}
		release = func() { s.budget.Release(int64(length)) }
	}
	_ = conn.SetReadDeadline(time.Now().Add(bodyTimeout))
	msg = make([]byte, len(hdr)+length)
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[len(hdr):]); err != nil {
		release()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			ss.disconnect(gldap.ResultAdminLimitExceeded, fmt.Sprintf("the request did not arrive within %s of its start", bodyTimeout))
		}
		return nil, nil, false
	}
	return msg, release, true
}

// forward checks one message and passes it to gldap, holding a pool
// thread and its body's budget (release) until its response; it answers a
// message over the decoding limits itself. It reports false when the
// session must end, and whether the message was a StartTLS request, after
// which the client loop must wait for the handshake on r.
func (ss *session) forward(msg []byte, hdrLen int, lim decodeLimits, r *bufio.Reader, release func()) (ok, startTLS bool) {
	s := ss.s
	held := false
	defer func() {
		if !held {
			release()
		}
	}()
	body := msg[hdrLen:]
	env, err := readEnvelope(body)
	if err == nil {
		err = checkShape(body, lim)
	}
	resp, answered := responseOp[env.op]
	request := answered || env.op == opUnbindRequest || env.op == opAbandonRequest
	switch {
	case err == nil && !request:
		ss.disconnect(gldap.ResultProtocolError, fmt.Sprintf("operation %d is not a request", env.op))
		return false, false
	case errors.Is(err, errOverLimits) && answered:
		return ss.send(ldapResult(env.id, resp, gldap.ResultAdminLimitExceeded, err.Error())) == nil, false
	case err != nil:
		ss.disconnect(gldap.ResultProtocolError, err.Error())
		return false, false
	}
	startTLS = env.op == opExtendedRequest && env.name == oidStartTLS
	if answered {
		ss.mu.Lock()
		_, dup := ss.pending[env.id]
		ss.mu.Unlock()
		if dup {
			ss.disconnect(gldap.ResultProtocolError, fmt.Sprintf("message ID %d is already in use by an outstanding request", env.id))
			return false, false
		}
		select {
		case s.pool <- struct{}{}:
		case <-s.ctx.Done():
			return false, false
		}
		ss.mu.Lock()
		if ss.pending == nil { // the session ended meanwhile
			ss.mu.Unlock()
			<-s.pool
			return false, false
		}
		ss.pending[env.id] = func() { <-s.pool; release() }
		held = true
		if startTLS {
			ss.startTLS, ss.reader = env.id, r
		}
		ss.mu.Unlock()
	}
	if env.op == opUnbindRequest {
		ss.mu.Lock()
		ss.unbound = true
		ss.mu.Unlock()
	}
	if _, err := ss.backend.Write(msg); err != nil {
		return false, false
	}
	return true, startTLS
}

// fromBackend passes gldap's responses to the client, frees a request's
// pool thread at its final response, and starts TLS on the client's side
// after a successful StartTLS response.
func (ss *session) fromBackend() {
	s := ss.s
	r := bufio.NewReader(ss.backend)
	defer func() {
		ss.mu.Lock()
		waiting, quiet := ss.startTLS >= 0, ss.unbound || ss.ending
		ss.startTLS = -1
		ss.mu.Unlock()
		if waiting {
			ss.upgraded <- tlsUpgrade{err: errors.New("the session ended")}
		}
		if !quiet && !s.isClosed() {
			// gldap ends a connection whose request it cannot decode.
			ss.disconnect(gldap.ResultProtocolError, "the request could not be decoded")
		}
		ss.client.Close()
	}()
	for {
		_, length, hdr, err := readHeader(r, 1<<31-1)
		if err != nil {
			return
		}
		msg := make([]byte, len(hdr)+length)
		copy(msg, hdr)
		if _, err := io.ReadFull(r, msg[len(hdr):]); err != nil {
			return
		}
		env, err := readEnvelope(msg[len(hdr):])
		if err != nil {
			return
		}
		if err := ss.send(msg); err != nil {
			return
		}
		if !finalResponse(env.op) {
			continue
		}
		ss.mu.Lock()
		free := ss.pending[env.id]
		delete(ss.pending, env.id)
		upgrade := env.op == opExtendedResp && env.id == ss.startTLS
		if upgrade {
			ss.startTLS = -1
		}
		ss.mu.Unlock()
		if free != nil {
			free()
		}
		if upgrade {
			ss.upgraded <- ss.startClientTLS(env.result == gldap.ResultSuccess)
		}
	}
}

// startClientTLS runs the server side of the TLS handshake a successful
// StartTLS response announced, reading what the client loop had buffered.
func (ss *session) startClientTLS(ok bool) tlsUpgrade {
	if !ok {
		return tlsUpgrade{}
	}
	ss.mu.Lock()
	r := ss.reader
	ss.mu.Unlock()
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	tc := tls.Server(bufferedConn{Conn: ss.out, r: r}, ss.s.tls)
	_ = tc.SetDeadline(time.Now().Add(ss.s.opts.InitRecvTimeout))
	if err := tc.Handshake(); err != nil {
		return tlsUpgrade{err: err}
	}
	_ = tc.SetDeadline(time.Time{})
	ss.out = tc
	return tlsUpgrade{conn: tc}
}

// bufferedConn reads through the reader that may hold bytes already read
// from the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
