package ldapserver_test

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/ldapserver"
)

func TestBind(t *testing.T) {
	_, addr := start(t, lab.New(lab.Config{}))

	c := dial(t, addr)
	err := c.Bind(adminDN, "wrong")
	wantCode(t, err, ldap.LDAPResultInvalidCredentials, "bind with a wrong password")
	if !strings.Contains(err.Error(), "data 52e") {
		t.Errorf("wrong password: %v, want AD's 'data 52e'", err)
	}
	wantCode(t, c.Bind("CN=Nobody,"+domain, ldapserver.DefaultPassword), ldap.LDAPResultInvalidCredentials, "bind as an unknown DN")

	// Nothing but the rootDSE is readable before a bind, as on AD.
	_, err = c.Search(ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", nil, nil))
	wantCode(t, err, ldap.LDAPResultOperationsError, "search before bind")
	if !strings.Contains(err.Error(), "000004DC") {
		t.Errorf("search before bind: %v, want AD's 000004DC", err)
	}

	if err := c.Bind(adminDN, ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind with the DN: %v", err)
	}
	if err := dial(t, addr).Bind("cn=administrator, cn=Users, dc=corp, dc=example, dc=com", ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind with the DN spelt with spaces and in lower case: %v", err)
	}
	if err := dial(t, addr).Bind("Administrator@corp.example.com", ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind with the UPN: %v", err)
	}
	// A failed bind on a bound connection leaves it anonymous.
	_ = c.Bind(adminDN, "wrong")
	_, err = c.Search(ldap.NewSearchRequest(domain, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", nil, nil))
	wantCode(t, err, ldap.LDAPResultOperationsError, "search after a failed bind")
}

func TestSimpleBindNeedsTLSWhenRequired(t *testing.T) {
	srv := ldapserver.New(lab.New(lab.Config{}), ldapserver.Options{RequireTLSForSimpleBind: true})
	addr := serve(t, srv)

	c := dial(t, addr)
	err := c.Bind(adminDN, ldapserver.DefaultPassword)
	wantCode(t, err, ldap.LDAPResultStrongAuthRequired, "simple bind without TLS")
	if !strings.Contains(err.Error(), "00002028") {
		t.Errorf("bind without TLS: %v, want AD's 00002028", err)
	}

	if err := c.StartTLS(tlsConfig(t, srv)); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind(adminDN, ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind after StartTLS: %v", err)
	}
	if n := len(search(t, c, "(objectClass=user)", nil)); n != 0 {
		t.Errorf("empty tenant: %d users", n)
	}

	// LDAPS: TLS from the first byte, verified against CAPEM.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(l) }()
	lc, err := ldap.DialURL("ldaps://"+l.Addr().String(), ldap.DialWithTLSConfig(tlsConfig(t, srv)))
	if err != nil {
		t.Fatalf("LDAPS dial: %v", err)
	}
	defer lc.Close()
	if err := lc.Bind(adminDN, ldapserver.DefaultPassword); err != nil {
		t.Fatalf("bind over LDAPS: %v", err)
	}
	if _, err := ldap.DialURL("ldaps://"+l.Addr().String(), ldap.DialWithTLSConfig(&tls.Config{ServerName: "127.0.0.1"})); err == nil {
		t.Error("LDAPS with the system roots: want an unknown authority error")
	}
}

func TestRootDSE(t *testing.T) {
	tn := lab.New(lab.Config{})
	addUser(t, tn, "ann", nil)
	_, addr := start(t, tn)
	c := dial(t, addr) // anonymous, as ldapsearch -x -b "" -s base
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].DN != "" {
		t.Fatalf("rootDSE: %v", dns(res.Entries))
	}
	e := res.Entries[0]
	if got := e.GetAttributeValue("defaultNamingContext"); got != domain {
		t.Errorf("defaultNamingContext %q, want %q", got, domain)
	}
	ctrls := e.GetAttributeValues("supportedControl")
	for _, oid := range []string{ldap.ControlTypePaging, ldap.ControlTypeMicrosoftShowDeleted} {
		if !slices.Contains(ctrls, oid) {
			t.Errorf("supportedControl %v lacks %s", ctrls, oid)
		}
	}
	if !slices.Contains(e.GetAttributeValues("supportedExtension"), "1.3.6.1.4.1.1466.20037") {
		t.Error("supportedExtension lacks StartTLS")
	}
	if got := e.GetAttributeValue("highestCommittedUSN"); got != "1" {
		t.Errorf("highestCommittedUSN %q after one add, want 1", got)
	}
	if got := e.GetAttributeValue("currentTime"); got != lab.Epoch.Format(lab.GeneralizedTime) {
		t.Errorf("currentTime %q, want the virtual clock's %q", got, lab.Epoch.Format(lab.GeneralizedTime))
	}
}

func TestCloseEndsConnections(t *testing.T) {
	srv := ldapserver.New(lab.New(lab.Config{}), ldapserver.Options{})
	l, errc := serveLoopback(t, srv)
	c := admin(t, l.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited on an open connection")
	}
	if err := <-errc; err != ldapserver.ErrClosed {
		t.Errorf("Serve: %v, want ErrClosed", err)
	}
	if _, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", nil, nil)); err == nil {
		t.Error("search on a closed server succeeded")
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts after Close")
	}
}

func TestListenAndServe(t *testing.T) {
	srv := ldapserver.New(lab.New(lab.Config{}), ldapserver.Options{BindDN: "CN=svc-rebind,OU=Service," + domain, Password: "s3cret"})
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe("127.0.0.1:0") }()
	deadline := time.Now().Add(10 * time.Second)
	for srv.URL() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.HasPrefix(srv.URL(), "ldap://127.0.0.1:") {
		t.Fatalf("URL %q", srv.URL())
	}
	c, err := ldap.DialURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if dn, pw := srv.Credentials(); c.Bind(dn, pw) != nil || dn != "CN=svc-rebind,OU=Service,"+domain {
		t.Errorf("bind with the configured credentials %s failed", dn)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != ldapserver.ErrClosed {
		t.Errorf("ListenAndServe: %v, want ErrClosed", err)
	}
}

// TestCloseWhileClientsArrive closes the server while clients are still
// connecting, so that connections are on their way to the LDAP engine
// behind the front end as it stops. Run under the race detector (the test
// script does): stopping the engine while it takes a connection in is a
// data race on its connection count.
func TestCloseWhileClientsArrive(t *testing.T) {
	for trial := range 60 {
		srv := ldapserver.New(lab.New(lab.Config{}), ldapserver.Options{})
		l, errc := serveLoopback(t, srv)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
				if err == nil {
					c.Close()
				}
			}()
		}
		time.Sleep(time.Duration(trial%30) * time.Millisecond / 2)
		if err := srv.Close(); err != nil {
			t.Fatalf("trial %d: close: %v", trial, err)
		}
		wg.Wait()
		if err := <-errc; err != ldapserver.ErrClosed {
			t.Fatalf("trial %d: Serve: %v, want ErrClosed", trial, err)
		}
	}
}
