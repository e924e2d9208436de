package entra

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func entraConfig(graphURL string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"tenant_id": cty.NullVal(cty.String), "graph_url": cty.StringVal(graphURL),
		"device_code": cty.NullVal(cty.Bool), "batch": cty.NullVal(cty.Bool),
	})
}

// TestDoctorEndpoint checks a Graph endpoint whose certificate does not
// chain to a trusted root: doctor says so and signs nothing in over it;
// and a plain http endpoint outside a lab is refused.
func TestDoctorEndpoint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	checks := targetType{}.Doctor(context.Background(), steps.DoctorRequest{
		Config: steps.TargetConfig{Name: "tenant", Config: entraConfig(srv.URL), Getenv: func(string) string { return "" }},
		Needs:  []steps.Permission{steps.ParsePermission("Graph: User.Read.All")},
	})
	last := checks[len(checks)-1]
	if last.Name != "TLS certificate" || last.State != steps.CheckFailed || !strings.Contains(last.Detail, "does not chain to a trusted CA") {
		t.Fatalf("untrusted endpoint: %+v", checks)
	}
	checks = targetType{}.Doctor(context.Background(), steps.DoctorRequest{
		Config: steps.TargetConfig{Name: "tenant", Config: entraConfig("http://graph.example.com"), Getenv: func(string) string { return "" }},
	})
	if len(checks) != 1 || checks[0].State != steps.CheckFailed || !strings.Contains(checks[0].Detail, "not https") {
		t.Fatalf("http endpoint: %+v", checks)
	}
}
