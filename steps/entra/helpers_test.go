package entra

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// labTenant starts a lab from a scenario as rebind rehearse does: its
// real Graph, Exchange, token and control routes over HTTPS with the CA
// this process was handed. Targets opened on it (openLab) verify it and get
// their tokens from it, as against a real tenant.
func labTenant(t testing.TB, scenario string, opts labhttp.ServerOptions) (*lab.Tenant, *labhttp.Server, served) {
	t.Helper()
	if opts.ReadUnits == 0 {
		opts.ReadUnits = 1 << 30
	}
	if opts.WriteUnits == 0 {
		opts.WriteUnits = 1 << 30
	}
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: lab.ScenarioFiles, Server: opts})
	return in.Tenant, in.Server, served{URL: in.URL}
}

// served is where a lab listens.
type served struct{ URL string }

// labClient starts a lab from a scenario (labTenant) and opens the entra
// target bound to it with the lab's own settings (openLab).
func labClient(t testing.TB, scenario string) (*lab.Tenant, *Client) {
	t.Helper()
	tn, _, srv := labTenant(t, scenario, labhttp.ServerOptions{})
	return tn, openLab(t, srv.URL, nil)
}

// openLab opens the entra target bound to a lab the way `rebind --lab`
// binds it: with the lab's settings and credentials, through the same code
// as a tenant's.
func openLab(t testing.TB, labURL string, config map[string]any) *Client {
	t.Helper()
	return openLabEnv(t, labURL, config, nil)
}

// openLabEnv is openLab with the environment env (REBIND_LAB_TOKEN, say).
func openLabEnv(t testing.TB, labURL string, config map[string]any, env map[string]string) *Client {
	t.Helper()
	// labTenant lifts the lab's throttling unless a test sets it; a
	// target that paces sets throttle_tier itself.
	extra := map[string]cty.Value{"throttle_tier": cty.StringVal("none")}
	for k, v := range config {
		extra[k] = steptest.Value(v)
	}
	c := instancetest.Target(t, instancetest.Bind(t, labURL, env), "entra", "tenant", extra).(*Client)
	t.Cleanup(func() { c.Close() })
	return c
}

// newCall is a call of step type name against target c. At apply time
// (apply = true) Refresh is set, as the engine sets it.
func newCall(t testing.TB, name string, c *Client, given map[string]any, apply bool) (steps.Type, steps.Call) {
	t.Helper()
	typ := steptest.Step(t, name)
	call := steptest.Call(typ, c, given)
	if apply {
		cfg := call.Config
		call.Refresh = func(context.Context) (cty.Value, error) { return cfg, nil }
	}
	return typ, call
}

// dataCall is a call of data source name against target c.
func dataCall(t testing.TB, name string, c *Client, given map[string]any) (steps.DataSource, steps.Call) {
	t.Helper()
	d := steptest.Lookup(t, name)
	return d, steptest.Call(d, c, given)
}

// plan observes and, for a step type, diffs, failing the test on an
// error. A data source only reads: its change is zero.
func plan(t testing.TB, typ steps.DataSource, call steps.Call) (steps.Observation, steps.Change) {
	t.Helper()
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		t.Fatalf("%s: observe: %v", call.Address, err)
	}
	st, ok := typ.(steps.Type)
	if !ok {
		return obs, steps.Change{}
	}
	ch, err := st.Diff(context.Background(), call, obs)
	if err != nil {
		t.Fatalf("%s: diff: %v", call.Address, err)
	}
	return obs, ch
}

// apply observes, diffs and applies, failing the test on an error.
func apply(t testing.TB, typ steps.Type, call steps.Call) (steps.Change, steps.Result) {
	t.Helper()
	_, ch := plan(t, typ, call)
	res, err := typ.Apply(context.Background(), call, ch)
	if err != nil {
		t.Fatalf("%s: apply: %v", call.Address, err)
	}
	return ch, res
}

var ctyZero = cty.NumberIntVal(0)

func ctyString(s string) cty.Value { return cty.StringVal(s) }

// mustCall is newCall's call at plan time.
func mustCall(t testing.TB, name string, c *Client, given map[string]any) steps.Call {
	t.Helper()
	return steptest.Call(steptest.Lookup(t, name), c, given)
}

// serveTLS serves h, the lab server ls behind whatever wraps it, over TLS
// (Graph is served over TLS only): the lab publishes the server's
// certificate as its CA, and this process trusts it.
func serveTLS(t testing.TB, ls *labhttp.Server, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	ls.SetCA(ca)
	control.Trust(srv.URL, ca)
	t.Cleanup(func() { control.Forget(srv.URL) })
	return srv
}

// TestOpenRefusesPlainHTTP: a graph_url that is not https:// is refused
// before any token is asked for, naming the target, the setting and its
// value.
func TestOpenRefusesPlainHTTP(t *testing.T) {
	cfg := steps.TargetConfig{Name: "tenant", Config: steptest.Config(targetType{}.Info().Schema,
		map[string]any{"graph_url": "http://graph.microsoft.com"})}
	_, err := targetType{}.Open(t.Context(), cfg)
	if want := `entra: target tenant: graph_url "http://graph.microsoft.com" must be an https:// URL`; err == nil || err.Error() != want {
		t.Fatalf("Open = %v, want %q", err, want)
	}
}
