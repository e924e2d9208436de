package ldapserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/ldapserver"
)

const domain = "DC=corp,DC=example,DC=com"

var adminDN = "CN=Administrator,CN=Users," + domain

// serve starts srv's plain endpoint on a loopback port and stops it when
// the test ends; it returns the address.
func serve(t testing.TB, srv *ldapserver.Server) string {
	t.Helper()
	l, errc := serveLoopback(t, srv)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-errc; !errors.Is(err, ldapserver.ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return l.Addr().String()
}

// serveLoopback serves srv on a new loopback listener; the channel gets
// what Serve returns.
func serveLoopback(t testing.TB, srv *ldapserver.Server) (net.Listener, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	return l, errc
}

// start serves tenant tn with default options.
func start(t testing.TB, tn *lab.Tenant) (*ldapserver.Server, string) {
	t.Helper()
	srv := ldapserver.New(tn, ldapserver.Options{})
	return srv, serve(t, srv)
}

// dial connects to addr without binding.
func dial(t testing.TB, addr string) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admin connects to addr and binds as the lab's administrator.
func admin(t testing.TB, addr string) *ldap.Conn {
	t.Helper()
	c := dial(t, addr)
	if err := c.Bind(adminDN, ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind: %v", err)
	}
	return c
}

// tlsConfig trusts the lab's CA.
func tlsConfig(t testing.TB, srv *ldapserver.Server) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// addUser stores a live user under OU=Staff.
func addUser(t testing.TB, tn *lab.Tenant, name string, edit func(*lab.ADUser)) lab.ADUser {
	t.Helper()
	u := lab.ADUser{DN: "CN=" + name + ",OU=Staff," + domain, SAMAccountName: name,
		UserPrincipalName: name + "@corp.example.com"}
	if edit != nil {
		edit(&u)
	}
	got, err := tn.AddADUser(u)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// code returns the LDAP result code of err, or -1.
func code(err error) int {
	var le *ldap.Error
	if errors.As(err, &le) {
		return int(le.ResultCode)
	}
	return -1
}

// wantCode fails unless err carries result code want.
func wantCode(t testing.TB, err error, want int, what string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("%s: %v (code %d), want code %d", what, err, got, want)
	}
}

// search runs a subtree search from the domain and returns the entries.
func search(t testing.TB, c *ldap.Conn, filter string, attrs []string, ctrls ...ldap.Control) []*ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, ctrls))
	if err != nil {
		t.Fatalf("search %s: %v", filter, err)
	}
	return res.Entries
}

// dns returns the entries' DNs.
func dns(es []*ldap.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.DN
	}
	return out
}

func staff(name string) string { return fmt.Sprintf("CN=%s,OU=Staff,%s", name, domain) }
