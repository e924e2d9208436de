package ad_test

// The same step types against the lab tenant's LDAP server
// (lab/ldapserver), opened the two ways a run opens it: through the lab's
// GET /lab/endpoints, and as an ordinary ldaps:// target with its CA. This
// file is an external test package so that it uses only what the engine
// uses: the registry, Open and the step methods.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/lab/ldapserver"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/ad"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// labDC is a lab tenant served over LDAP and LDAPS on loopback.
type labDC struct {
	srv           *ldapserver.Server
	plain, secure string // host:port
	caFile        string
}

func startLab(t *testing.T, opts ldapserver.Options) *labDC {
	t.Helper()
	return startLabTenant(t, lab.New(lab.Config{}), opts)
}

// startLabTenant serves tenant tn over LDAP and LDAPS.
func startLabTenant(t *testing.T, tn *lab.Tenant, opts ldapserver.Options) *labDC {
	t.Helper()
	srv := ldapserver.New(tn, opts)
	d := &labDC{srv: srv}
	for _, tls := range []bool{false, true} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if tls {
			d.secure = l.Addr().String()
			go srv.ServeTLS(l)
		} else {
			d.plain = l.Addr().String()
			go srv.Serve(l)
		}
	}
	t.Cleanup(func() { srv.Close() })
	d.caFile = filepath.Join(t.TempDir(), "lab-ca.pem")
	if err := os.WriteFile(d.caFile, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *labDC) env() func(string) string {
	dn, pw := d.srv.Credentials()
	m := map[string]string{ad.EnvBindDN: dn, ad.EnvPassword: pw, ad.EnvCAFile: d.caFile}
	return func(k string) string { return m[k] }
}

// config is a target block's value with every schema attribute.
func config(schema steps.Schema, given map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	for name, a := range schema {
		if v, ok := given[name]; ok {
			attrs[name] = v
		} else {
			attrs[name] = cty.NullVal(a.Type)
		}
	}
	return cty.ObjectVal(attrs)
}

// open opens the lab as an `ad` target over verified LDAPS.
func (d *labDC) open(t *testing.T) ad.Directory {
	t.Helper()
	tt, _ := steps.LookupTarget("ad")
	c, err := tt.Open(context.Background(), steps.TargetConfig{
		Name:   "lab",
		Config: config(tt.Info().Schema, map[string]cty.Value{"url": cty.StringVal("ldaps://" + d.secure), "base_dn": cty.StringVal(d.srv.BaseDN())}),
		Getenv: d.env(),
	})
	if err != nil {
		t.Fatalf("open the lab over LDAPS: %v", err)
	}
	t.Cleanup(func() { c.(io.Closer).Close() })
	return c.(ad.Directory)
}

type stepRun struct {
	t    *testing.T
	typ  steps.DataSource
	call steps.Call
}

func step(t *testing.T, name string, dir ad.Directory, given map[string]cty.Value) stepRun {
	t.Helper()
	typ := steptest.Lookup(t, name)
	return stepRun{t: t, typ: typ, call: steps.Call{Address: "step." + name + ".lab", Config: config(typ.Info().Schema, given), Target: dir}}
}

// step is the step type run, failing the test when it is a data source.
func (s stepRun) step() steps.Type {
	s.t.Helper()
	typ, ok := s.typ.(steps.Type)
	if !ok {
		s.t.Fatalf("%s is a data source: it has no Diff or Apply", s.typ.Info().Name)
	}
	return typ
}

func (s stepRun) observe() steps.Observation {
	s.t.Helper()
	obs, err := s.typ.Observe(context.Background(), s.call)
	if err != nil {
		s.t.Fatalf("%s Observe: %v", s.typ.Info().Name, err)
	}
	return obs
}

func (s stepRun) diff() steps.Change {
	s.t.Helper()
	ch, err := s.step().Diff(context.Background(), s.call, s.observe())
	if err != nil {
		s.t.Fatalf("%s Diff: %v", s.typ.Info().Name, err)
	}
	return ch
}

// apply plans and applies, and returns the change for Revert.
func (s stepRun) apply(want steps.Action) (steps.Change, steps.Result) {
	s.t.Helper()
	ch := s.diff()
	if ch.Action != want {
		s.t.Fatalf("%s Diff = %s, want %s", s.typ.Info().Name, ch.Action, want)
	}
	res, err := s.step().Apply(context.Background(), s.call, ch)
	if err != nil {
		s.t.Fatalf("%s Apply: %v", s.typ.Info().Name, err)
	}
	return ch, res
}

func (s stepRun) revert(ch steps.Change) {
	s.t.Helper()
	if err := s.typ.(steps.Reverter).Revert(context.Background(), s.call, ch); err != nil {
		s.t.Fatalf("%s Revert: %v", s.typ.Info().Name, err)
	}
}

func get(v cty.Value, attr string) string {
	a := v.GetAttr(attr)
	if a.IsNull() {
		return "<null>"
	}
	return a.AsString()
}

func s(v string) cty.Value { return cty.StringVal(v) }

// addUser adds a user over LDAP under OU=Staff.
func addUser(t *testing.T, dir ad.Directory, name string, extra map[string][]string) (dn, upn string) {
	t.Helper()
	dn = "CN=" + name + ",OU=Staff," + dir.BaseDN()
	upn = strings.ToLower(name) + "@corp.example.com"
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{strings.ToLower(name)})
	req.Attribute("userPrincipalName", []string{upn})
	for k, v := range extra {
		req.Attribute(k, v)
	}
	if err := dir.Add(req); err != nil {
		t.Fatalf("add %s to the lab: %v", dn, err)
	}
	return dn, upn
}

func TestLabUsersAndAttributes(t *testing.T) {
	d := startLab(t, ldapserver.Options{RequireTLSForSimpleBind: true, MaxPageSize: 4})
	dir := d.open(t)
	for i := 0; i < 10; i++ {
		addUser(t, dir, fmt.Sprintf("Pager%02d", i), map[string][]string{"mail": {fmt.Sprintf("pager%02d@paging.example", i)}})
	}
	// The server returns at most 4 a page: ad_users must follow the cookie.
	users := step(t, "ad_users", dir, map[string]cty.Value{"filter": s("(mail=*@paging.example)")}).observe().Value.GetAttr("users")
	if users.LengthInt() != 10 {
		t.Fatalf("ad_users read %d users in pages of 4, want 10", users.LengthInt())
	}

	dn, upn := addUser(t, dir, "Frank", map[string][]string{"proxyAddresses": {"SMTP:frank@corp.example.com"}})
	u := step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value
	g, err := anchor.ParseGUID(get(u, "object_guid"))
	if err != nil || get(u, "immutable_id") != g.ImmutableID() || !strings.EqualFold(get(u, "dn"), dn) {
		t.Fatalf("ad_user = %#v (%v)", u, err)
	}

	archive := step(t, "ad_attribute", dir, map[string]cty.Value{"upn": s(upn), "attribute": s("msExchArchiveGUID"), "guid": s("35918bc9-196d-40ea-9779-889d79b753f0")})
	ch, _ := archive.apply(steps.Update)
	res, err := dir.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"msExchArchiveGUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read back: %v", err)
	}
	if got := res.Entries[0].GetRawAttributeValue("msExchArchiveGUID"); string(got) != "\xc9\x8b\x91\x35\x6d\x19\xea\x40\x97\x79\x88\x9d\x79\xb7\x53\xf0" {
		t.Errorf("lab holds msExchArchiveGUID % x, want AD's byte order", got)
	}
	if archive.diff().Action != steps.NoOp {
		t.Error("second Diff is not a no-op")
	}
	archive.revert(ch)
	if v := step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value; get(v, "archive_guid") != "<null>" {
		t.Errorf("after Revert archive_guid = %s", get(v, "archive_guid"))
	}

	mbx := step(t, "ad_remote_mailbox", dir, map[string]cty.Value{
		"upn": s(upn), "alias": s("frank"), "routing_domain": s("contoso.mail.onmicrosoft.com"),
		"exchange_guid": s("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"),
	})
	ch, _ = mbx.apply(steps.Update)
	v := step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value
	if get(v, "target_address") != "SMTP:frank@contoso.mail.onmicrosoft.com" || get(v, "exchange_guid") != "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873" ||
		!v.GetAttr("recipient_type_details").Equals(cty.NumberIntVal(2147483648)).True() || v.GetAttr("proxy_addresses").LengthInt() != 2 {
		t.Errorf("after ad_remote_mailbox: %#v", v)
	}
	if mbx.diff().Action != steps.NoOp {
		t.Error("ad_remote_mailbox again is not a no-op")
	}
	mbx.revert(ch)
	v = step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value
	if get(v, "target_address") != "<null>" || get(v, "mail_nickname") != "<null>" || v.GetAttr("proxy_addresses").LengthInt() != 1 {
		t.Errorf("after Revert: %#v", v)
	}

	// A second user cannot take Frank's UPN.
	_, otherUPN := addUser(t, dir, "Grace", nil)
	dup := step(t, "ad_attribute", dir, map[string]cty.Value{"upn": s(otherUPN), "attribute": s("userPrincipalName"), "value": s(upn)})
	_, err = dup.step().Apply(context.Background(), dup.call, dup.diff())
	var e *ad.Error
	if !errors.As(err, &e) || e.Code != ldap.LDAPResultConstraintViolation {
		t.Errorf("duplicate UPN in the lab: %v, want LDAP 19", err)
	}
}

func TestLabRestore(t *testing.T) {
	d := startLab(t, ldapserver.Options{})
	dir := d.open(t)
	dn, upn := addUser(t, dir, "Heidi", nil)
	guid := get(step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value, "object_guid")
	if err := dir.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatal(err)
	}
	del := step(t, "ad_deleted_user", dir, map[string]cty.Value{"object_guid": s(guid)}).observe().Value
	if !strings.EqualFold(get(del, "last_known_parent"), "OU=Staff,"+dir.BaseDN()) || get(del, "name") != "Heidi" {
		t.Errorf("ad_deleted_user = %#v", del)
	}
	restore := step(t, "ad_user_restored", dir, map[string]cty.Value{"sam_account_name": s("heidi")})
	ch, res := restore.apply(steps.Create)
	if get(res.Value, "object_guid") != guid || !strings.EqualFold(get(res.Value, "dn"), dn) {
		t.Errorf("restored as %#v", res.Value)
	}
	live := step(t, "ad_user", dir, map[string]cty.Value{"object_guid": s(guid)}).observe().Value
	if !strings.EqualFold(get(live, "dn"), dn) {
		t.Errorf("restored user at %s", get(live, "dn"))
	}
	if restore.diff().Action != steps.NoOp {
		t.Error("restoring a live user is not a no-op")
	}
	restore.revert(ch)
	if _, err := step(t, "ad_user", dir, map[string]cty.Value{"object_guid": s(guid)}).typ.Observe(context.Background(),
		step(t, "ad_user", dir, map[string]cty.Value{"object_guid": s(guid)}).call); !errors.Is(err, steps.ErrNotFound) {
		t.Errorf("after Revert the user is live: %v", err)
	}
}

// TestLabRemoteMailboxRefusesAnOnPremisesMailbox: a user whose
// msExchRecipientTypeDetails says its mailbox is on premises (UserMailbox,
// 1) is refused, and nothing is written; a user without one is made a
// remote mailbox.
func TestLabRemoteMailboxRefusesAnOnPremisesMailbox(t *testing.T) {
	dc := startLab(t, ldapserver.Options{})
	dir := dc.open(t)
	dn, upn := addUser(t, dir, "Onprem", map[string][]string{"mailNickname": {"onprem"}, "msExchRecipientTypeDetails": {"1"},
		"proxyAddresses": {"SMTP:onprem@corp.example.com"}})
	run := step(t, "ad_remote_mailbox", dir, map[string]cty.Value{"upn": s(upn), "alias": s("onprem"), "routing_domain": s("contoso.mail.onmicrosoft.com")})
	_, err := run.step().Diff(context.Background(), run.call, run.observe())
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "mailbox on premises") || !strings.Contains(err.Error(), dn) {
		t.Fatalf("ad_remote_mailbox of a user with an on-premises mailbox: %v", err)
	}
	if v := step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value; v.GetAttr("target_address").IsNull() == false {
		t.Fatalf("targetAddress was written: %#v", v.GetAttr("target_address"))
	}
	_, upn2 := addUser(t, dir, "Plain", map[string][]string{"proxyAddresses": {"SMTP:plain@corp.example.com"}})
	step(t, "ad_remote_mailbox", dir, map[string]cty.Value{"upn": s(upn2), "alias": s("plain"), "routing_domain": s("contoso.mail.onmicrosoft.com")}).apply(steps.Update)
}

// TestLabRemoteMailboxThroughExchangeCmdlets: with exchange_shell the step
// runs Enable-RemoteMailbox and Set-RemoteMailbox -ExchangeGuid (seed 003's
// procedure) through the lab's Exchange server instead of writing the
// attributes; a second plan has nothing to do; rollback writes the
// attributes back over LDAP.
func TestLabRemoteMailboxThroughExchangeCmdlets(t *testing.T) {
	tn := lab.New(lab.Config{})
	dc := startLabTenant(t, tn, ldapserver.Options{})
	web := httptest.NewServer(labhttp.NewServer(tn, labhttp.ServerOptions{}))
	defer web.Close()
	shell := filepath.Join(t.TempDir(), "exchange-shell")
	if err := os.WriteFile(shell, []byte("#!/bin/sh\nfor a; do last=$a; done\ncurl -sS -f --data-binary \"$last\" \""+web.URL+"/lab/exchange/powershell\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := dc.open(t)
	_, upn := addUser(t, dir, "Relinked", map[string][]string{"proxyAddresses": {"SMTP:relinked@corp.example.com"}})
	const guid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	run := step(t, "ad_remote_mailbox", dir, map[string]cty.Value{"upn": s(upn), "alias": s("o'relinked"),
		"routing_domain": s("contoso.mail.onmicrosoft.com"), "exchange_guid": s(guid),
		"exchange_shell": cty.ListVal([]cty.Value{s(shell), s("-EncodedCommand")})})
	ch, _ := run.apply(steps.Update)
	v := step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value
	if get(v, "target_address") != "SMTP:o'relinked@contoso.mail.onmicrosoft.com" || get(v, "exchange_guid") != guid ||
		get(v, "mail_nickname") != "o'relinked" || !v.GetAttr("recipient_type_details").Equals(cty.NumberIntVal(2147483648)).True() {
		t.Fatalf("after the cmdlets: %#v", v)
	}
	if again := run.diff(); again.Action != steps.NoOp {
		t.Fatalf("second plan = %s", again.Action)
	}
	run.revert(ch)
	v = step(t, "ad_user", dir, map[string]cty.Value{"upn": s(upn)}).observe().Value
	if !v.GetAttr("target_address").IsNull() || !v.GetAttr("recipient_type_details").IsNull() || !v.GetAttr("exchange_guid").IsNull() {
		t.Fatalf("after rollback: %#v", v)
	}
}
