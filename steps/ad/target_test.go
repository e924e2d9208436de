package ad

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	labmodel "github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/steps"
)

func openTarget(ctx context.Context, given map[string]any, env func(string) string) (any, error) {
	return targetType{}.Open(ctx, steps.TargetConfig{Name: "corp", Config: targetConfig(given), Getenv: env})
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTargetIsRegistered(t *testing.T) {
	if _, ok := steps.LookupTarget("ad"); !ok {
		t.Fatal("target type ad is not registered")
	}
	for _, name := range []string{"ad_user", "ad_users", "ad_deleted_user", "ad_attribute", "ad_user_restored", "ad_remote_mailbox"} {
		typ, ok := steps.Lookup(name)
		if !ok {
			t.Errorf("step type %s is not registered", name)
			continue
		}
		if typ.Info().Target != "ad" {
			t.Errorf("%s targets %q", name, typ.Info().Target)
		}
		if typ.Info().Kind == steps.KindEnsure {
			if _, ok := typ.(steps.Reverter); !ok {
				t.Errorf("%s cannot be reverted", name)
			}
		}
	}
}

// TestStepsRefuseAnotherTarget: an ad step or data type called with a
// target that is not a domain controller's client (a program building
// calls by hand; the engine opens the target Info names) fails with an
// error naming the step and what it got, rather than panicking.
func TestStepsRefuseAnotherTarget(t *testing.T) {
	for _, name := range []string{"ad_user", "ad_users", "ad_deleted_user"} {
		typ, _ := steps.Lookup(name)
		for _, target := range []any{"not a directory", nil} {
			_, err := typ.Observe(context.Background(), steps.Call{Address: "data." + name + ".x", Config: cty.EmptyObjectVal, Target: target})
			want := fmt.Sprintf("ad: data.%s.x: the target is not an ad target (got %T)", name, target)
			if err == nil || err.Error() != want {
				t.Errorf("%s with target %#v: %v, want %q", name, target, err, want)
			}
		}
	}
}

func TestTargetRefusesAClearTextBindUnlessInsecure(t *testing.T) {
	env := envOf(map[string]string{EnvBindDN: "CN=x", EnvPassword: "secret"})
	// Refused before any connection is made: nothing listens there.
	_, err := openTarget(context.Background(), map[string]any{"url": "ldap://127.0.0.1:1", "base_dn": "DC=x", "start_tls": false}, env)
	if !errors.Is(err, ErrInsecure) {
		t.Fatalf("plain ldap:// without StartTLS: %v, want ErrInsecure", err)
	}
	_, err = openTarget(context.Background(), map[string]any{"url": "ldap://127.0.0.1:1", "base_dn": "DC=x", "start_tls": false, "insecure": true}, env)
	if err == nil || errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("insecure = true should try to connect, got %v", err)
	}
}

// TestCAFileRefusedByOpenAndDoctor: a ca_file that cannot be read, or
// that holds no PEM certificate, stops Open before any connection (nothing
// listens at the url) and fails doctor's settings check, both naming
// ca_file, doctor with the fix for that case.
func TestCAFileRefusedByOpenAndDoctor(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	env := envOf(map[string]string{EnvBindDN: "CN=x", EnvPassword: "secret"})
	for _, tc := range []struct {
		file, open, check, fix string
	}{
		{missing, "ad: ca_file: open " + missing + ": no such file or directory", "ca_file: open " + missing + ": no such file or directory",
			"give a readable PEM file of the DC's CA"},
		{notPEM, "ad: ca_file " + notPEM + " holds no PEM certificate", "ca_file " + notPEM + " holds no PEM certificate",
			"give the DC's CA certificate in PEM"},
	} {
		given := map[string]any{"url": "ldaps://127.0.0.1:1", "base_dn": "DC=x", "ca_file": tc.file}
		if _, err := openTarget(context.Background(), given, env); err == nil || err.Error() != tc.open {
			t.Errorf("Open with ca_file %s: %v, want %q", tc.file, err, tc.open)
		}
		checks := targetType{}.Doctor(context.Background(), steps.DoctorRequest{
			Config: steps.TargetConfig{Name: "corp", Config: targetConfig(given), Getenv: env}})
		if len(checks) != 1 || checks[0].Name != "settings" || checks[0].State != steps.CheckFailed ||
			checks[0].Detail != tc.check || checks[0].Fix != tc.fix {
			t.Errorf("doctor with ca_file %s: %+v, want settings failed: %q (%q)", tc.file, checks, tc.check, tc.fix)
		}
	}
}

func TestTargetReadsCredentialsFromNamedVariables(t *testing.T) {
	s, err := resolve(context.Background(), steps.TargetConfig{
		Name:   "corp",
		Config: targetConfig(map[string]any{"url": "ldaps://dc01.corp.example", "base_dn": "DC=corp", "bind_dn_env": "CORP_DN", "password_env": "CORP_PW"}),
		Getenv: envOf(map[string]string{"CORP_DN": "svc@corp.example", "CORP_PW": "pw", EnvCAFile: "/etc/corp-ca.pem"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.bindDN != "svc@corp.example" || s.password != "pw" || s.caFile != "/etc/corp-ca.pem" || !s.startTLS || s.insecure {
		t.Errorf("settings = %+v", s)
	}
	_, err = resolve(context.Background(), steps.TargetConfig{
		Name:   "corp",
		Config: targetConfig(map[string]any{"url": "ldaps://dc01.corp.example", "base_dn": "DC=corp"}),
		Getenv: envOf(nil),
	})
	if err == nil || !strings.Contains(err.Error(), EnvBindDN) || !strings.Contains(err.Error(), EnvPassword) {
		t.Errorf("no credentials: %v, want an error naming the variables", err)
	}
	_, err = resolve(context.Background(), steps.TargetConfig{
		Name:   "corp",
		Config: targetConfig(map[string]any{"url": "https://dc01", "base_dn": "DC=corp"}),
		Getenv: envOf(map[string]string{EnvBindDN: "a", EnvPassword: "b"}),
	})
	if err == nil || !strings.Contains(err.Error(), "ldaps://") {
		t.Errorf("https url: %v", err)
	}
}

func TestTargetOverLDAPSAndStartTLS(t *testing.T) {
	d := needSamba(t)
	for _, url := range []string{d.url(), "ldap://" + d.ip} {
		c, err := openTarget(context.Background(), map[string]any{"url": url, "base_dn": sambaBaseDN}, d.env(nil))
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		cl := c.(*Client)
		if v := observe(t, "ad_user", cl, map[string]any{"sam_account_name": "Administrator"}); str(v, "dn") == "<null>" {
			t.Errorf("%s: no Administrator", url)
		}
		cl.Close()
	}
}

func TestTargetVerifiesTheCertificate(t *testing.T) {
	d := needSamba(t)
	// Without the DC's CA the system roots do not know it.
	_, err := openTarget(context.Background(), map[string]any{"url": d.url(), "base_dn": sambaBaseDN}, d.env(map[string]string{EnvCAFile: ""}))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: %v, want a certificate error", err)
	}
	// The certificate does not name dc01.corp.example.
	_, err = openTarget(context.Background(), map[string]any{"url": d.url(), "base_dn": sambaBaseDN, "server_name": "dc01.corp.example"}, d.env(nil))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong name: %v, want a certificate error", err)
	}
	// ca_file in the block wins over the environment.
	if _, err := openTarget(context.Background(), map[string]any{"url": d.url(), "base_dn": sambaBaseDN, "ca_file": d.caFile}, d.env(map[string]string{EnvCAFile: "/nonexistent"})); err != nil {
		t.Errorf("ca_file: %v", err)
	}
}

func TestTargetBindErrorsKeepTheirCode(t *testing.T) {
	d := needSamba(t)
	_, err := openTarget(context.Background(), map[string]any{"url": d.url(), "base_dn": sambaBaseDN}, d.env(map[string]string{EnvPassword: "wrong"}))
	var e *Error
	if !errors.As(err, &e) || e.Code != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v, want LDAP 49", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Error("the error must not carry the password")
	}
	// Samba, like AD with LDAP signing required, refuses a simple bind on
	// a connection without TLS.
	_, err = openTarget(context.Background(), map[string]any{"url": "ldap://" + d.ip, "base_dn": sambaBaseDN, "start_tls": false, "insecure": true}, d.env(nil))
	if !errors.As(err, &e) || e.Code != ldap.LDAPResultStrongAuthRequired {
		t.Fatalf("clear-text bind: %v, want LDAP 8", err)
	}
	if !strings.Contains(err.Error(), "ldaps:// or StartTLS") {
		t.Errorf("message %q should say what to do", err)
	}
}

func TestErrorWordsAndCodes(t *testing.T) {
	cases := []struct {
		code uint16
		attr string
		want string
	}{
		{ldap.LDAPResultConstraintViolation, "userPrincipalName", "another object already uses it"},
		{ldap.LDAPResultEntryAlreadyExists, "", "already exists"},
		{ldap.LDAPResultStrongAuthRequired, "", "ldaps:// or StartTLS"},
		{ldap.LDAPResultUnwillingToPerform, "", "unwilling"},
		{ldap.LDAPResultNoSuchObject, "", "no such object"},
		{ldap.LDAPResultInvalidCredentials, "", "refused"},
	}
	for _, c := range cases {
		err := wrapErr(ldap.NewError(c.code, errors.New("server text")), "modify", "CN=a,DC=x", c.attr)
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("code %d: %v", c.code, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, fmt.Sprintf("LDAP %d", c.code)) || !strings.Contains(msg, "CN=a,DC=x") || !strings.HasPrefix(msg, "ad: ") {
			t.Errorf("code %d: message %q", c.code, msg)
		}
		if !IsCode(err, c.code) {
			t.Errorf("IsCode(%d) false", c.code)
		}
		if !steps.IsPermanent(err) {
			t.Errorf("code %d should be permanent", c.code)
		}
	}
	if err := wrapErr(ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("x")), "read", "CN=a", ""); !errors.Is(err, steps.ErrNotFound) {
		t.Error("noSuchObject should be steps.ErrNotFound")
	}
	if err := wrapErr(ldap.NewError(ldap.LDAPResultBusy, errors.New("x")), "read", "CN=a", ""); steps.IsPermanent(err) {
		t.Error("busy is worth retrying")
	}
}

func TestClientReconnectsAfterTheDCDropsTheConnection(t *testing.T) {
	c := needSamba(t).open(t)
	// What a DC does to a connection idle past MaxConnIdleTime.
	c.mu.Lock()
	c.conn.Close()
	c.mu.Unlock()
	if v := observe(t, "ad_user", c, map[string]any{"sam_account_name": "Administrator"}); str(v, "object_guid") == "<null>" {
		t.Error("no Administrator after reconnecting")
	}
	u := newUser(t, c, nil)
	c.mu.Lock()
	c.conn.Close()
	c.mu.Unlock()
	typ, call := newCall(t, "ad_attribute", c, map[string]any{"upn": u.upn, "attribute": "mail", "value": "x@corp.example"})
	_, ch := plan(t, typ, call)
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Errorf("write after reconnecting: %v", err)
	}
	c.Close()
	if _, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil)); !errors.Is(err, errClosed) {
		t.Errorf("search after Close: %v, want errClosed", err)
	}
}

// TestTargetUsesTheLabsLDAPSWithItsCA: bound to a lab as `rebind --lab`
// binds it, the target connects over LDAPS and verifies the lab's
// certificate against the CA file the binding wrote, as against a DC: no
// clear-text bind, no unverified TLS.
func TestTargetUsesTheLabsLDAPSWithItsCA(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: labmodel.ScenarioFiles})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b, err := control.Bind(context.Background(), in.URL, t.TempDir(), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := b.TargetConfig("ad", "corp", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := resolve(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.url != in.LDAPSURL || s.caFile != b.CAFile || s.insecure {
		t.Fatalf("settings = url %s, insecure %v, CA %s; want %s verified with the lab's CA", s.url, s.insecure, s.caFile, in.LDAPSURL)
	}
	c, err := dial(s)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	other, err := labmodel.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s.caFile = filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(s.caFile, other.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(s); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v, want a certificate error", err)
	}
}
