package control_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/labhttp"
	_ "github.com/rebind-dev/rebind/steps/ad"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// credentialOf signs in as a target bound by b does.
func credentialOf(t *testing.T, b *control.Binding) (string, error) {
	t.Helper()
	hc, err := httpx.Client(b.CAFile, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := credential.New(credential.Options{AuthorityHost: b.Endpoints.Authority, Getenv: b.Getenv, HTTP: hc})
	if err != nil {
		return "", err
	}
	// The entra target asks for its graph_url's .default, as a national
	// cloud's client does.
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{b.URL + "/.default"}})
	return tok.Token, err
}

// TestBindVerifiesTheLab: binding in a process that did not start the lab
// verifies it only with the CA $REBIND_LAB_CA names; bound, a target signs
// in with the lab's app at the lab's authority through the product's own
// credential code, and REBIND_LAB_TOKEN or REBIND_LAB_CLIENT_ID/SECRET
// choose another identity. The process's own Azure and AD credentials
// never reach the lab.
func TestBindVerifiesTheLab(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: lab.ScenarioFiles})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// As if another process: this one forgets the CA it was handed.
	control.Forget(in.URL)
	env := map[string]string{"AZURE_CLIENT_SECRET": "the-real-tenant's", "AZURE_CLIENT_ID": "real-app",
		"REBIND_AD_PASSWORD": "the-real-domain's", "PATH": "/usr/bin"}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	ctx := context.Background()

	if _, err := control.Bind(ctx, in.URL, dir, getenv); err == nil || !strings.Contains(err.Error(), control.EnvCA) {
		t.Fatalf("without a CA: %v, want an error naming %s", err, control.EnvCA)
	}
	wrong, err := lab.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	env[control.EnvCA] = filepath.Join(dir, "wrong.pem")
	os.WriteFile(env[control.EnvCA], wrong.PEM, 0o600)
	if _, err := control.Bind(ctx, in.URL, dir, getenv); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v, want a certificate error", err)
	}
	env[control.EnvCA] = filepath.Join(dir, "lab.pem")
	os.WriteFile(env[control.EnvCA], in.CAPEM, 0o600)
	b, err := control.Bind(ctx, in.URL, dir, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b.CAFile); string(got) != string(in.CAPEM) {
		t.Errorf("ca_file %s holds %d bytes, not the lab's CA", b.CAFile, len(got))
	}
	for k, want := range map[string]string{"AZURE_CLIENT_SECRET": b.Endpoints.ClientSecret, "AZURE_CLIENT_ID": b.Endpoints.ClientID,
		"REBIND_AD_PASSWORD": b.Endpoints.LDAPPassword, "AZURE_CLIENT_CERTIFICATE_PATH": "", "PATH": "/usr/bin"} {
		if got := b.Getenv(k); got != want {
			t.Errorf("bound Getenv(%s) = %q, want %q", k, got, want)
		}
	}
	tok, err := credentialOf(t, b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Server.Authority().Verify(tok)
	if err != nil || c.AppID != b.Endpoints.ClientID || c.Aud != labhttp.GraphResource {
		t.Fatalf("token claims %+v, %v", c, err)
	}

	env[control.EnvLabToken] = "a-ready-token"
	if b, err = control.Bind(ctx, in.URL, dir, getenv); err != nil {
		t.Fatal(err)
	}
	if tok, err := credentialOf(t, b); err != nil || tok != "a-ready-token" {
		t.Fatalf("REBIND_LAB_TOKEN: got %q, %v", tok, err)
	}
	delete(env, control.EnvLabToken)
	env[control.EnvLabClientID], env[control.EnvLabClientSecret] = b.Endpoints.ClientID, "not-the-secret"
	if b, err = control.Bind(ctx, in.URL, dir, getenv); err != nil {
		t.Fatal(err)
	}
	if _, err := credentialOf(t, b); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("a wrong secret: %v, want AADSTS7000215", err)
	}
}

// TestBindRefusesPlainHTTP: targets take https endpoints only, so a lab
// served with --plain-http (for clients that cannot be given its CA)
// cannot be bound.
func TestBindRefusesPlainHTTP(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: lab.ScenarioFiles, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := control.Bind(context.Background(), in.URL, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "--plain-http") {
		t.Fatalf("Bind(%s) = %v, want a refusal naming --plain-http", in.URL, err)
	}
}

// TestBindingEnvironment: the environment text binds each target the
// runbook declares, by its own name, to the lab's endpoints.
func TestBindingEnvironment(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: lab.ScenarioFiles})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b, err := control.Bind(context.Background(), in.URL, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := b.Environment([]control.Ref{{Type: "entra", Name: "tenant"}, {Type: "ad", Name: "corp"}, {Type: "adsync", Name: "connect"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`target "entra" "tenant"`, `"` + in.URL + `"`, `target "ad" "corp"`,
		`"` + in.LDAPSURL + `"`, `"lab"`} {
		if !strings.Contains(string(src), want) {
			t.Errorf("environment lacks %s:\n%s", want, src)
		}
	}
	if _, err := b.Environment([]control.Ref{{Type: "nope", Name: "x"}}); err == nil {
		t.Error("an unknown target type was bound")
	}
	cfg, err := b.TargetConfig("ad", "corp", map[string]cty.Value{"server_name": cty.StringVal("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.GetAttr("url").AsString() != in.LDAPSURL || !cfg.Config.GetAttr("insecure").IsNull() {
		t.Errorf("ad config %#v", cfg.Config)
	}
	// The bind credentials are read from the binding's variables, which
	// hold the lab's, never from variables a runbook names.
	dn, pw := cfg.Config.GetAttr("bind_dn_env").AsString(), cfg.Config.GetAttr("password_env").AsString()
	if got := b.Getenv(dn); got != b.Endpoints.LDAPBindDN || got == "" {
		t.Errorf("%s reads %q, want the lab's bind DN %q", dn, got, b.Endpoints.LDAPBindDN)
	}
	if got := b.Getenv(pw); got != b.Endpoints.LDAPPassword || got == "" {
		t.Errorf("%s reads %q, want the lab's password", pw, got)
	}
}
