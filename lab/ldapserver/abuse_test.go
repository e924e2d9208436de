package ldapserver_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/internal/ldapraw"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/ldapserver"
)

// The tests write their frames byte by byte with internal/ldapraw, to send
// what no well-behaved client library sends.

// small is a one-octet INTEGER or ENUMERATED.
func small(tag byte, v int) []byte {
	return ldapraw.TLV(tag, []byte{byte(v)})
}

// searchOp searches the domain's subtree with a filter already encoded.
func searchOp(filter []byte, attrs ...string) []byte {
	return ldapraw.SearchRequest(domain, filter, attrs...)
}

// rawConn is a connection that fails the test rather than hang.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// read reads one LDAP message, or fails with the connection's error.
func read(c net.Conn) (*ber.Packet, error) {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	return ber.ReadPacket(c)
}

// result returns a response's message ID, operation tag, result code and
// diagnostic message.
func result(p *ber.Packet) (id int64, op ber.Tag, code int64, diag string) {
	if len(p.Children) < 2 || len(p.Children[1].Children) < 3 {
		return -1, 0, -1, ""
	}
	id, _ = p.Children[0].Value.(int64)
	r := p.Children[1]
	code, _ = r.Children[0].Value.(int64)
	return id, r.Tag, code, r.Children[2].Data.String()
}

// wantNotice reads until the connection ends and fails unless it ends
// with a Notice of Disconnection carrying code (RFC 4511 section 4.4.1).
func wantNotice(t *testing.T, c net.Conn, code int64, what string) {
	t.Helper()
	var got []string
	for {
		p, err := read(c)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: the server neither answered nor closed the connection", what)
			}
			break
		}
		id, op, rc, diag := result(p)
		if id == 0 && op == ldap.ApplicationExtendedResponse && rc == code &&
			len(p.Children[1].Children) > 3 && p.Children[1].Children[3].Data.String() == "1.3.6.1.4.1.1466.20036" {
			if _, err := read(c); err == nil {
				t.Fatalf("%s: the connection stayed open after the notice", what)
			}
			return
		}
		got = append(got, ldap.LDAPResultCodeMap[uint16(rc)]+": "+diag)
	}
	t.Fatalf("%s: the connection ended without a Notice of Disconnection with code %d (got %q)", what, code, got)
}

// alive fails unless the server still binds and searches on a new
// connection.
func alive(t *testing.T, addr string) {
	t.Helper()
	c := admin(t, addr)
	if n := len(search(t, c, "(objectClass=user)", []string{"cn"})); n == 0 {
		t.Fatal("the server answers, but finds no user")
	}
}

func abuseServer(t *testing.T, opts ldapserver.Options) (*lab.Tenant, string) {
	t.Helper()
	tn := lab.New(lab.Config{})
	addUser(t, tn, "ann", nil)
	return tn, serve(t, ldapserver.New(tn, opts))
}

// A message over AD's MaxReceiveBuffer (10,485,760 bytes) ends the session
// with a Notice of Disconnection before anything of it is stored; it used
// to be read whole, however large, and the add it carried applied.
func TestOversizedMessageEndsSession(t *testing.T) {
	tn, addr := abuseServer(t, ldapserver.Options{})
	c := rawConn(t, addr)
	c.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
	if p, err := read(c); err != nil {
		t.Fatal(err)
	} else if _, _, code, diag := result(p); code != 0 {
		t.Fatalf("bind: %d %s", code, diag)
	}
	huge := strings.Repeat("x", 10<<20+1)
	add := ldapraw.TLV(0x68, ldapraw.Octets(staff("huge")), ldapraw.TLV(0x30,
		ldapraw.TLV(0x30, ldapraw.Octets("objectClass"), ldapraw.TLV(0x31, ldapraw.Octets("user"))),
		ldapraw.TLV(0x30, ldapraw.Octets("sAMAccountName"), ldapraw.TLV(0x31, ldapraw.Octets("huge"))),
		ldapraw.TLV(0x30, ldapraw.Octets("description"), ldapraw.TLV(0x31, ldapraw.Octets(huge)))))
	go c.Write(ldapraw.Message(2, add)) // the server may stop reading half way
	wantNotice(t, c, ldap.LDAPResultAdminLimitExceeded, "an 11 MB add")
	if _, err := tn.ADUser(staff("huge")); err == nil {
		t.Fatal("the oversized add was applied")
	}
	alive(t, addr)
}

// A filter nested 100,000 deep (and, or, not) neither overflows a stack
// nor ends the session: the search gets adminLimitExceeded and the same
// connection searches on. It used to end the connection without a word.
func TestDeepFilterGetsAnError(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{})
	c := rawConn(t, addr)
	c.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
	if _, err := read(c); err != nil {
		t.Fatal(err)
	}
	for i, depth := range []int{100_000, 5000, 101} {
		id := 2 + i
		if _, err := c.Write(ldapraw.Message(id, searchOp(ldapraw.NestedFilter(depth), "cn"))); err != nil {
			t.Fatal(err)
		}
		p, err := read(c)
		if err != nil {
			t.Fatalf("filter %d deep: no answer: %v", depth, err)
		}
		gotID, op, code, diag := result(p)
		if gotID != int64(id) || op != ldap.ApplicationSearchResultDone || code != ldap.LDAPResultAdminLimitExceeded {
			t.Fatalf("filter %d deep: message %d, op %d, code %d %q; want a SearchResultDone with 11", depth, gotID, op, code, diag)
		}
	}
	// A sane filter on the same connection still works.
	c.Write(ldapraw.Message(9, searchOp(ldapraw.TLV(0xa0, ldapraw.Present("objectClass"), ldapraw.Present("cn")), "cn")))
	var entries int
	for {
		p, err := read(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, op, code, _ := result(p); op == ldap.ApplicationSearchResultDone {
			if code != 0 || entries == 0 {
				t.Fatalf("search after the deep filters: code %d, %d entries", code, entries)
			}
			break
		}
		entries++
	}
	alive(t, addr)
}

// Bytes that are not an LDAPMessage end the session with a Notice of
// Disconnection carrying protocolError (RFC 4511 section 4.1.1), whatever
// they are; the server serves on. They used to end the connection without
// a word, or to be waited on.
func TestMalformedMessagesGetANotice(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{})
	cases := map[string][]byte{
		"a zero tag":              {0x00, 0x00},
		"not a SEQUENCE":          ldapraw.TLV(0x04, []byte("hello")),
		"HTTP":                    []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"indefinite length":       {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"high tag number":         {0x3f, 0x01, 0x00},
		"no protocolOp":           ldapraw.TLV(0x30, small(0x02, 1)),
		"messageID not INTEGER":   ldapraw.TLV(0x30, ldapraw.Octets("1"), ldapraw.BindRequest("", "")),
		"negative messageID":      ldapraw.TLV(0x30, ldapraw.TLV(0x02, []byte{0xff}), ldapraw.BindRequest("", "")),
		"a response as request":   ldapraw.Message(1, ldapraw.TLV(0x61, small(0x0a, 0), ldapraw.Octets(""), ldapraw.Octets(""))),
		"an element overrun":      {0x30, 0x06, 0x02, 0x01, 0x01, 0x60, 0x7f, 0x00},
		"garbage after the op":    ldapraw.TLV(0x30, small(0x02, 1), ldapraw.BindRequest("", ""), ldapraw.Octets("x")),
		"a bind gldap can't read": ldapraw.Message(1, ldapraw.TLV(0x60, ldapraw.Octets("three"), ldapraw.Octets(adminDN), ldapraw.TLV(0x80, []byte("x")))),
		"a SASL bind":             ldapraw.Message(1, ldapraw.TLV(0x60, small(0x02, 3), ldapraw.Octets(""), ldapraw.TLV(0xa3, ldapraw.Octets("GSSAPI")))),
	}
	for name, msg := range cases {
		c := rawConn(t, addr)
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantNotice(t, c, ldap.LDAPResultProtocolError, name)
	}
	// A length that no LDAP message has is over MaxReceiveBuffer.
	c := rawConn(t, addr)
	c.Write([]byte{0x30, 0x88, 1, 2, 3, 4, 5, 6, 7, 8})
	wantNotice(t, c, ldap.LDAPResultAdminLimitExceeded, "an 8-octet length")
	// Half a message, then silence, then a hang-up: nothing to answer.
	c = rawConn(t, addr)
	c.Write([]byte{0x30, 0x84, 0x00, 0x10})
	c.Close()
	alive(t, addr)
}

// Binds with garbage in them get a bind response with an error, never a
// success and never a hang.
func TestGarbageBinds(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{})
	cases := map[string][]byte{
		"a 1 MB password":         ldapraw.BindRequest(adminDN, strings.Repeat("p", 1<<20)),
		"a 1 MB name":             ldapraw.BindRequest(strings.Repeat("CN=x,", 200_000), "x"),
		"binary in the name":      ldapraw.BindRequest("CN=\x00\xff\xfe,"+domain, "x"),
		"a name without password": ldapraw.BindRequest(adminDN, ""),
		"LDAP version 2":          ldapraw.TLV(0x60, small(0x02, 2), ldapraw.Octets(adminDN), ldapraw.TLV(0x80, []byte(ldapserver.DefaultPassword))),
	}
	for name, op := range cases {
		c := rawConn(t, addr)
		c.Write(ldapraw.Message(7, op))
		p, err := read(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		id, tag, code, diag := result(p)
		if id == 0 {
			continue // a notice: the session ended, which is an answer too
		}
		if id != 7 || tag != ldap.ApplicationBindResponse || code == 0 {
			t.Fatalf("%s: message %d, op %d, code %d %q; want a failed bind", name, id, tag, code, diag)
		}
	}
	alive(t, addr)
}

// A paged search with a cookie the server never gave gets 53, as AD
// answers one it does not know, whatever the cookie's size or bytes.
func TestPagingCookieGarbage(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{})
	c := admin(t, addr)
	for _, cookie := range [][]byte{[]byte("garbage"), bytes.Repeat([]byte{0xff}, 1<<20), {0}} {
		p := ldap.NewControlPaging(10)
		p.SetCookie(cookie)
		_, err := c.Search(ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=user)", []string{"cn"}, []ldap.Control{p}))
		wantCode(t, err, ldap.LDAPResultUnwillingToPerform, "a paged search with a foreign cookie")
	}
	// A paging control whose value is not the RFC 2696 SEQUENCE.
	raw := rawConn(t, addr)
	raw.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
	read(raw)
	ctl := ldapraw.TLV(0x30, ldapraw.Octets(ldap.ControlTypePaging), ldapraw.TLV(0x04, small(0x02, 5)))
	raw.Write(ldapraw.Message(2, searchOp(ldapraw.Present("cn"), "cn"), ctl))
	for {
		p, err := read(raw)
		if err != nil {
			t.Fatalf("a malformed paging control: the connection ended without a word: %v", err)
		}
		id, op, code, _ := result(p)
		if id == 0 || op == ldap.ApplicationSearchResultDone && code != 0 {
			break
		}
		if op == ldap.ApplicationSearchResultDone {
			t.Fatal("a malformed paging control was accepted")
		}
	}
	alive(t, addr)
}

// More connections than MaxConnections drop the ones idle the longest
// ("If a connection comes in after the domain controller reaches this
// limit, the domain controller drops another connection"); the newest
// still work.
func TestConnectionFloodDropsIdleOnes(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{MaxConnections: 20})
	var conns []net.Conn
	for i := 0; i < 100; i++ {
		conns = append(conns, rawConn(t, addr))
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	dropped := 0
	for _, c := range conns[:80] {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			dropped++
		}
	}
	if dropped < 80 {
		t.Fatalf("%d of the 80 oldest connections were dropped, want all", dropped)
	}
	for _, c := range conns[80:] {
		c.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
		if p, err := read(c); err != nil {
			t.Fatalf("one of the newest connections: %v", err)
		} else if _, _, code, _ := result(p); code != 0 {
			t.Fatalf("one of the newest connections: bind code %d", code)
		}
	}
	alive(t, addr)
}

// isTimeout tells a quiet open connection from a closed one.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A connection that sends nothing is closed after InitRecvTimeout, and an
// idle one after MaxConnIdleTime with a Notice of Disconnection.
func TestIdleConnectionsAreClosed(t *testing.T) {
	_, addr := abuseServer(t, ldapserver.Options{InitRecvTimeout: 300 * time.Millisecond, MaxConnIdleTime: 500 * time.Millisecond})
	silent := rawConn(t, addr)
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("a silent connection: %v, want it closed", err)
	}
	c := rawConn(t, addr)
	c.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
	if _, err := read(c); err != nil {
		t.Fatal(err)
	}
	wantNotice(t, c, ldap.LDAPResultAdminLimitExceeded, "an idle connection")
	alive(t, addr)
}

// Over LDAPS and after StartTLS the same rules hold: the front end sees
// the messages once decrypted.
func TestLimitsHoldOverTLS(t *testing.T) {
	srv := ldapserver.New(lab.New(lab.Config{}), ldapserver.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(l) }()
	t.Cleanup(func() { srv.Close() })
	tc, err := tls.Dial("tcp", l.Addr().String(), tlsConfig(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.Write(ldapraw.Message(1, ldapraw.BindRequest(adminDN, ldapserver.DefaultPassword)))
	if _, err := read(tc); err != nil {
		t.Fatal(err)
	}
	tc.Write(ldapraw.Message(2, searchOp(ldapraw.NestedFilter(50_000), "cn")))
	p, err := read(tc)
	if err != nil {
		t.Fatal(err)
	}
	if _, op, code, _ := result(p); op != ldap.ApplicationSearchResultDone || code != ldap.LDAPResultAdminLimitExceeded {
		t.Fatalf("a deep filter over LDAPS: op %d code %d", op, code)
	}
	tc.Write([]byte{0x30, 0x80, 0, 0})
	wantNotice(t, tc, ldap.LDAPResultProtocolError, "indefinite length over LDAPS")
}
