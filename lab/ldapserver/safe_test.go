package ldapserver

import (
	"errors"
	"log"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/rebind-dev/rebind/internal/e2e"
)

// gldap runs each request's handler on a goroutine of its own without
// recovering, so a handler's panic would end the whole process; safe turns
// it into the request's response with 80 other, logs it with its stack,
// and the server serves on.
func TestSafeAnswersAHandlerPanic(t *testing.T) {
	var logged e2e.SyncBuffer
	h := &handlers{dir: &directory{log: log.New(&logged, "", 0)}, conns: &connections{m: map[int]*connState{}}}
	m, err := gldap.NewMux()
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	if err := m.Search(h.safe(gldap.ApplicationSearchResultDone, func(w *gldap.ResponseWriter, r *gldap.Request) {
		calls.Add(1)
		var nothing map[string]int
		nothing["x"]++ // a nil map write
	})); err != nil {
		t.Fatal(err)
	}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Router(m); err != nil {
		t.Fatal(err)
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	go func() { _ = srv.Run(addr) }()
	defer srv.Stop()
	var c *ldap.Conn
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = ldap.DialURL("ldap://" + addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		_, err := c.Search(ldap.NewSearchRequest("DC=x", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(cn=*)", nil, nil))
		var le *ldap.Error
		if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultOther {
			t.Fatalf("search %d: %v, want 80 other", i+1, err)
		}
	}
	if calls.Load() != 2 || !strings.Contains(logged.String(), "assignment to entry in nil map") || !strings.Contains(logged.String(), "goroutine") {
		t.Fatalf("%d calls; log %q", calls.Load(), logged.String())
	}
}
