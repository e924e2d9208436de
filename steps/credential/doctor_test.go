package credential

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// TestSignInChecks: the doctor checks a target reached with a token shares
// stop at the first that fails (a ca_file without a certificate, an
// endpoint that is not https, a credential that cannot be built) and say
// whether a token was asked for; past them, "sign-in" and the service's
// permissions come from the token's claims.
func TestSignInChecks(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir() + "/empty.pem"
	writeFile(t, empty, "")
	tok := jwt(t, map[string]any{"aud": "https://graph.microsoft.com", "tid": "t1", "appid": "a1", "roles": []string{"User.ReadWrite.All"}})
	static := func(Options) (azcore.TokenCredential, error) { return Static(tok), nil }
	broken := func(Options) (azcore.TokenCredential, error) { return nil, errors.New("no client id") }
	cfg := func(set map[string]cty.Value) steps.TargetConfig {
		return steps.TargetConfig{Name: "t", Config: config(set), Getenv: func(string) string { return "" }}
	}
	graph := SignIn{Scope: "https://graph.microsoft.com/.default", Service: "Graph", Needs: needs, Fix: "sign in", New: static}
	withEndpoint := graph
	withEndpoint.Endpoint = "http://graph.example"
	failing := graph
	failing.New = broken

	cases := []struct {
		name   string
		s      SignIn
		cfg    steps.TargetConfig
		want   []string // "name state"
		asked  bool
		detail string // in the first check's detail
	}{
		{"bad ca_file, endpoint", withEndpoint, cfg(map[string]cty.Value{"ca_file": cty.StringVal(empty)}), []string{"endpoint failed"}, false, "ca_file " + empty},
		{"bad ca_file, no endpoint", graph, cfg(map[string]cty.Value{"ca_file": cty.StringVal(empty)}), []string{"settings failed"}, false, "ca_file " + empty},
		{"endpoint not https", withEndpoint, cfg(nil), []string{"endpoint failed"}, false, "is not https"},
		{"credential refused", failing, cfg(nil), []string{"sign-in failed"}, false, "no client id"},
		{"token read", graph, cfg(nil), []string{"sign-in ok", "Graph User.Read.All ok", "Graph User.ReadWrite.All ok",
			"Graph OnPremDirectorySynchronization.Read.All warning"}, true, "app-only token for app a1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, asked := tc.s.Checks(ctx, tc.cfg)
			var names []string
			for _, c := range got {
				names = append(names, c.Name+" "+string(c.State))
			}
			if strings.Join(names, ", ") != strings.Join(tc.want, ", ") || asked != tc.asked {
				t.Fatalf("checks %q, asked %v; want %q, %v", names, asked, tc.want, tc.asked)
			}
			if !strings.Contains(got[0].Detail, tc.detail) {
				t.Errorf("first check's detail %q, want it to name %q", got[0].Detail, tc.detail)
			}
		})
	}
}
