package exo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/steptest"
)

func token(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + ".x"
}

// TestDoctorExchange checks the token's Exchange.ManageAsApp and reports
// the Exchange roles, which no token carries, as not observable.
func TestDoctorExchange(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	var needs []steps.Permission
	for _, name := range []string{"exo_recipient", "exo_recipient_purge"} {
		st, _ := steps.Lookup(name)
		for _, p := range st.Info().Permissions {
			needs = append(needs, steps.ParsePermission(p))
		}
	}
	run := func(roles []string) map[string]steps.Check {
		doctorCredential = func(credential.Options) (azcore.TokenCredential, error) {
			return credential.Static(token(map[string]any{"aud": "https://outlook.office365.com", "tid": "t", "appid": "a", "roles": roles})), nil
		}
		t.Cleanup(func() { doctorCredential = credential.New })
		cfg := steptest.Config(targetType{}.Info().Schema, map[string]any{"organization": "contoso.onmicrosoft.com", "url": srv.URL, "ca_file": caFile})
		m := map[string]steps.Check{}
		for _, c := range (targetType{}).Doctor(context.Background(), steps.DoctorRequest{
			Config: steps.TargetConfig{Name: "tenant", Config: cfg}, Needs: needs}) {
			m[c.Name] = c
		}
		return m
	}
	m := run([]string{"Exchange.ManageAsApp"})
	if c := m["Exchange Exchange.ManageAsApp"]; c.State != steps.CheckOK {
		t.Errorf("ManageAsApp granted: %+v", m)
	}
	for _, role := range []string{"View-Only Recipients", "Mail Recipients"} {
		if c := m["Exchange role "+role]; c.State != steps.CheckUnknown || !strings.Contains(c.Fix, "New-ServicePrincipal") {
			t.Errorf("%s: %+v", role, c)
		}
	}
	m = run(nil)
	if c := m["Exchange Exchange.ManageAsApp"]; c.State != steps.CheckFailed || !strings.Contains(c.Fix, "Office 365 Exchange Online") {
		t.Errorf("ManageAsApp missing: %+v", c)
	}
}
