package credential

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	rebind "github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
)

// TestLabCredentialVerifiesTheLab: a lab binding in a process that did not
// start the lab verifies it only with the CA $REBIND_LAB_CA names; with it,
// azidentity gets a token for Graph from the lab's token endpoint, and
// REBIND_LAB_TOKEN or REBIND_LAB_CLIENT_ID/SECRET choose another identity.
func TestLabCredentialVerifiesTheLab(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: rebind.Scenarios})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// As if another process: this one forgets the CA it was handed.
	control.Forget(in.URL)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	if _, _, _, err := Lab(context.Background(), in.URL, getenv); err == nil || !strings.Contains(err.Error(), control.EnvCA) {
		t.Fatalf("without a CA: %v, want an error naming %s", err, control.EnvCA)
	}
	wrong, err := lab.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env[control.EnvCA] = filepath.Join(dir, "wrong.pem")
	os.WriteFile(env[control.EnvCA], wrong.PEM, 0o600)
	if _, _, _, err := Lab(context.Background(), in.URL, getenv); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v, want a certificate error", err)
	}
	env[control.EnvCA] = filepath.Join(dir, "lab.pem")
	os.WriteFile(env[control.EnvCA], in.CAPEM, 0o600)
	cred, _, ep, err := Lab(context.Background(), in.URL, getenv)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewSource(cred, "https://graph.microsoft.com/.default").Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Server.Authority().Verify(tok)
	if err != nil || c.AppID != ep.ClientID || c.Aud != lab.GraphResource {
		t.Fatalf("token claims %+v, %v", c, err)
	}

	env[EnvLabToken] = "a-ready-token"
	cred, _, _, err = Lab(context.Background(), in.URL, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := cred.GetToken(context.Background(), policy.TokenRequestOptions{}); tok.Token != "a-ready-token" {
		t.Fatalf("REBIND_LAB_TOKEN: got %q", tok.Token)
	}
	delete(env, EnvLabToken)
	env[EnvLabClientID], env[EnvLabClientSecret] = ep.ClientID, "not-the-secret"
	cred, _, _, err = Lab(context.Background(), in.URL, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("a wrong secret: %v, want AADSTS7000215", err)
	}
}

// TestLabCredentialOverPlainHTTP: a lab served with --plain-http still
// requires tokens; the binding gets them with the same client credentials
// request (MSAL takes https authorities only).
func TestLabCredentialOverPlainHTTP(t *testing.T) {
	in, err := instance.Start(instance.Options{Scenario: "healthy", Scenarios: rebind.Scenarios, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if !strings.HasPrefix(in.URL, "http://") {
		t.Fatalf("URL %s", in.URL)
	}
	cred, _, _, err := Lab(context.Background(), in.URL, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewSource(cred, "https://graph.microsoft.com/.default").Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := in.Server.Authority().Verify(tok); err != nil || c.Aud != lab.GraphResource {
		t.Fatalf("claims %+v, %v", c, err)
	}
}
